"""The simulation's customers and returns desk, without Kafka: what each step sends."""

from __future__ import annotations

import uuid

from oms_events.domain.returns import Return
from oms_events.engine.commands import (
    Command,
    InspectReturn,
    ReceiveReturn,
    RequestReturn,
    ShipReturn,
)
from oms_events.engine.order_returns import exchange_order_id
from oms_events.engine.simulated_returns import Parcel, ReturnsDesk

ORDER, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


def desk(wanted: dict[str, str]) -> tuple[ReturnsDesk, list[Command]]:
    sent: list[Command] = []
    return ReturnsDesk("r1", 7, wanted, sent.append), sent


def test_a_return_goes_requested_shipped_back_received_and_inspected() -> None:
    d, sent = desk({ORDER: "return"})
    d.delivered(Parcel(ORDER, "WH-01", 2, "TEA"))
    d.delivered(Parcel(ORDER, "WH-01", 2, "TEA"))  # a second parcel: one return per order
    (request,) = sent
    assert isinstance(request, RequestReturn) and request.lines[0].line_no == 2
    assert request.reason == "quality" and not request.exchange_lines
    return_id = str(Return.create_id(uuid.UUID(ORDER), request.return_no))
    tracking_no = d.approved(return_id)
    assert tracking_no and d.approved(return_id) is None  # approved twice: shipped once
    assert isinstance(sent[1], ShipReturn) and sent[1].tracking_no == tracking_no
    assert d.open == 1
    assert d.arrived(tracking_no) and not d.arrived(tracking_no)
    receive, inspect = sent[2:]
    assert isinstance(receive, ReceiveReturn) and receive.location == "WH-01"
    assert isinstance(inspect, InspectReturn) and inspect.lines[0].line_no == 2
    assert d.open == 0


def test_an_exchange_names_its_replacement_order_and_others_ask_nothing() -> None:
    d, sent = desk({ORDER: "exchange"})
    d.delivered(Parcel(OTHER, "WH-01", 1, "TEA"))  # not drawn for a return
    d.delivered(Parcel(ORDER, "WH-00", 1, "TEA"))
    (request,) = sent
    assert isinstance(request, RequestReturn)
    assert [(x.sku, x.quantity) for x in request.exchange_lines] == [("TEA", 1)]
    assert d.replacements == {str(exchange_order_id(request.return_no))}
    assert d.approved(str(uuid.uuid4())) is None  # another run's return
    assert not d.arrived("SF0000000000000")
