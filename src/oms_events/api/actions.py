"""Operator commands on an order: ``POST /orders/{order_id}/{action}`` → 202 with the
command id; ``GET /commands/{command_id}`` → pending, applied or rejected.

Each command is built by :mod:`oms_events.operator_commands` (as the CLI builds it),
its actor the signed-in user, and sent by the command desk.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from oms_events import operator_commands as build
from oms_events.api.access import allow
from oms_events.api.orders import find
from oms_events.api.roles import Permission
from oms_events.api.services import Services, services
from oms_events.api.users import User
from oms_events.engine.commands import (
    AddedLine,
    AddressDetails,
    Command,
    ExchangeLine,
    LineRefund,
    NewQuantity,
    ReturnLineRequest,
)
from oms_events.kafka.errors import KafkaError, KafkaUnavailable

router = APIRouter(tags=["order actions"])


class Action(StrEnum):
    """What an operator does to an order."""

    cancel = "cancel"
    hold = "hold"
    release = "release"
    approve = "approve"
    reject = "reject"
    edit = "edit"
    refund = "refund"
    # "return" is a Python keyword: the member is return_, its value the path's word.
    return_ = "return"


class AddLine(BaseModel):
    """A line to add (edit)."""

    sku: str
    quantity: int = Field(gt=0)
    unit_price_minor: int = Field(ge=0, description="Price per unit in minor units")


class LineQuantity(BaseModel):
    """Units of one order line (edit: its new quantity; refund, return: how many)."""

    line_no: int = Field(ge=0, description="The order line; 0 with sku to name it by sku (return)")
    quantity: int = Field(gt=0)
    sku: str | None = None


class Address(BaseModel):
    """A new delivery address (edit)."""

    country: str = Field(description="ISO 3166 code, e.g. CN")
    province: str | None = None
    city: str | None = None
    district: str | None = None
    line1: str


class SkuQuantity(BaseModel):
    """Units of a sku (an exchange's replacement)."""

    sku: str
    quantity: int = Field(gt=0)


class ActionBody(BaseModel):
    """What the action needs; fields another action uses are ignored."""

    reason: str = Field(
        "",
        description="Why (required to cancel, hold, reject, refund); return: a return reason code",
    )
    add: list[AddLine] = Field(default_factory=list, description="edit: lines to add")
    remove: list[int] = Field(default_factory=list, description="edit: line numbers to remove")
    quantities: list[LineQuantity] = Field(default_factory=list, description="edit: new quantities")
    address: Address | None = Field(None, description="edit: the new address")
    lines: list[LineQuantity] = Field(
        default_factory=list,
        description="refund, return: units of lines (refund: none = everything left)",
    )
    shipping: bool = Field(False, description="refund: the shipping fee too")
    refund_id: str | None = Field(None, description="refund: idempotency key (default a new one)")
    refund_only: bool = Field(False, description="return: money back without a parcel (仅退款)")
    exchange: list[SkuQuantity] = Field(
        default_factory=list, description="return: replacement units (换货)"
    )
    return_no: str | None = Field(None, description="return: our RMA number (default a new one)")


class CommandAccepted(BaseModel):
    """202: Kafka has the command; follow it at /api/v1/commands/{command_id}."""

    command_id: str


class CommandOutcome(BaseModel):
    """What the engine did with a command."""

    command_id: str
    status: str = Field(description="pending, applied or rejected")
    reason: str | None = Field(description="rejected: the rule's words; pending: why no answer yet")
    action: str
    command: str = Field(description="The command type sent, e.g. HoldOrder")
    order_id: str
    actor: str = Field(description="Who sent it")
    events: list[str] = Field(description="The events it caused")
    sent_at: datetime
    answered_at: datetime | None


def command_for(
    action: Action, order: dict[str, Any], body: ActionBody, actor: str, api: Services
) -> Command:
    """The command ``action`` sends for ``order``."""
    oid = order["order_id"]
    if action is Action.cancel:
        return build.cancel(oid, body.reason)
    if action is Action.hold:
        return build.hold(oid, body.reason, actor)
    if action is Action.release:
        return build.release(oid, body.reason, actor)
    if action in (Action.approve, Action.reject):
        return build.review(oid, action is Action.approve, body.reason, actor)
    if action is Action.edit:
        a = body.address
        return build.edit(
            oid,
            actor,
            add=[
                AddedLine(sku=x.sku, quantity=x.quantity, unit_price=x.unit_price_minor)
                for x in body.add
            ],
            remove=body.remove,
            quantities=[
                NewQuantity(line_no=q.line_no, quantity=q.quantity) for q in body.quantities
            ],
            address=AddressDetails(**a.model_dump()) if a else None,
            reason=body.reason,
        )
    if action is Action.refund:
        return build.refund(
            oid,
            body.reason,
            lines=[LineRefund(line_no=x.line_no, quantity=x.quantity) for x in body.lines],
            shipping=body.shipping,
            refund_id=body.refund_id,
        )
    return build.request_return(
        oid,
        [ReturnLineRequest(line_no=x.line_no, quantity=x.quantity, sku=x.sku) for x in body.lines],
        body.reason,
        api.settings.returns.policy().reasons,
        refund_only=body.refund_only,
        exchange=[ExchangeLine(sku=x.sku, quantity=x.quantity) for x in body.exchange],
        return_no=body.return_no,
    )


@router.post(
    "/orders/{order_id}/{action}",
    status_code=202,
    response_model=CommandAccepted,
    responses={
        404: {"description": "No such order"},
        422: {"description": "The body does not make a command (the field is named)"},
        503: {"description": "Kafka did not take the command; send again"},
    },
    summary="Act on an order: cancel, hold, release, approve, reject, edit, refund, return",
)
def act(
    order_id: str,
    action: Action,
    api: Annotated[Services, Depends(services)],
    user: Annotated[User, Depends(allow(Permission.orders_act))],
    body: ActionBody | None = None,
) -> Any:
    """Send the operator command; the signed-in user is its actor."""
    order = find(api.db, order_id)
    try:
        command = command_for(action, order, body or ActionBody(), user.username, api)
    except build.ActionRefused as refused:
        raise HTTPException(422, {"field": refused.field, "message": str(refused)}) from None
    try:
        command_id = api.desk.send(action.value, command, order["order_id"], user.username)
    except (KafkaError, KafkaUnavailable) as error:
        return JSONResponse(
            {"detail": f"Kafka did not take the command ({type(error).__name__}); send again"},
            status_code=503,
            headers={"Retry-After": str(api.settings.http.retry_after_s)},
        )
    return CommandAccepted(command_id=command_id)


@router.get("/commands/{command_id}", response_model=CommandOutcome, summary="A command's outcome")
def outcome(
    command_id: str,
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, Depends(allow(Permission.orders_act))],
) -> CommandOutcome:
    """Pending until the engine answers; then applied (its events) or rejected (why)."""
    row = api.desk.outcome(command_id)
    if row is None:
        raise HTTPException(404, f"no command {command_id} was sent through this API")
    return CommandOutcome(**row)
