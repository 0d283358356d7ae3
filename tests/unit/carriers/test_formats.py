"""Each carrier's push, read from fixtures built from its documentation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oms_events.carriers import formats
from oms_events.carriers.scan import CHINA, PushRefused, Scan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "carriers"


def scans(name: str, headers: list[tuple[str, bytes]] | None = None) -> list[Scan]:
    return formats.parse((FIXTURES / name).read_bytes(), headers)


def test_an_sf_route_push_reads_every_route_with_its_opcode_meaning() -> None:
    found = scans("sf_route_push.json")
    assert [s.status for s in found] == [
        "in_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert {s.carrier for s in found} == {"SF"}
    assert {s.tracking_no for s in found} == {"SF1400012345678"}
    delivered = found[-1]
    assert delivered.occurred_at == datetime(2026, 11, 29, 15, 52, 8, tzinfo=CHINA)
    assert delivered.location == "上海市"
    assert delivered.signer == "李雷"


def test_an_sf_failed_delivery_carries_its_reason_and_a_return_follows() -> None:
    failed, returned = scans("sf_route_push_failed.json")
    assert (failed.status, failed.reason) == ("delivery_failed", "收方客户不在")
    assert returned.status == "returned_to_sender"
    assert returned.reason == "快件已退回，正在返回寄件人途中"


def test_the_older_xml_route_push_reads_like_the_json_one() -> None:
    picked_up, delivered = scans("sf_route_push.xml")
    assert (picked_up.status, delivered.status) == ("in_transit", "delivered")
    assert delivered.tracking_no == "SF1400099990000"
    assert delivered.signer is None  # the remark names nobody


def test_zto_traces_map_scan_types_and_read_both_time_forms() -> None:
    found = scans("zto_traces.json")
    assert [s.status for s in found] == [
        "in_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert found[0].occurred_at == datetime(2026, 11, 28, 6, 20, tzinfo=UTC)  # epoch ms
    assert found[1].occurred_at == datetime(2026, 11, 28, 20, 12, 33, tzinfo=CHINA)
    assert found[0].location == "浙江省 杭州市 杭州余杭"
    assert found[-1].signer == "本人"
    assert {s.carrier for s in found} == {"ZTO"}


def test_a_zto_problem_scan_is_a_failed_delivery_with_the_desc_as_reason() -> None:
    (problem,) = scans("zto_problem.json")
    assert problem.status == "delivery_failed"
    assert problem.reason == "收件人电话无人接听，派送不成功"
    assert problem.location == "北京海淀"


def test_a_carrier_header_names_the_carrier_of_a_zto_style_push() -> None:
    found = scans("zto_problem.json", [("format", b"zto"), ("carrier", "圆通".encode())])
    assert found[0].carrier == "YTO"


def test_jd_nodes_map_titles_and_carry_eta_signer_and_cod() -> None:
    found = scans("jd_track.json")
    assert [s.status for s in found] == [
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert found[1].eta == datetime(2026, 11, 29, 18, 0, tzinfo=CHINA)
    delivered = found[-1]
    assert (delivered.signer, delivered.cod_amount, delivered.cod_currency) == (
        "王芳",
        12900,
        "CNY",
    )


def test_the_generic_push_is_read_as_written() -> None:
    (scan,) = scans("generic_delivered_cod.json")
    assert scan == Scan(
        carrier="SF",
        tracking_no="SF1234567890123",
        status="delivered",
        occurred_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        location="深圳",
        signer="张三",
        cod_amount=12900,
        cod_currency="CNY",
    )


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("bad_sf_time.json", "carrier.bad_time", "WaybillRoute[0].acceptTime"),
        ("bad_sf_no_mailno.json", "carrier.missing_field", "WaybillRoute[0].mailno"),
        ("bad_sf_xml.xml", "carrier.malformed", "$"),
        ("bad_zto_no_scan_type.json", "carrier.missing_field", "traces[0].scanType"),
        ("bad_generic_status.json", "carrier.bad_status", "status"),
        ("bad_unknown_shape.json", "carrier.format_unknown", "$"),
        ("bad_not_json.txt", "carrier.format_unknown", "$"),
    ],
)
def test_a_malformed_push_is_refused_with_a_reason(name: str, code: str, field: str) -> None:
    with pytest.raises(PushRefused) as refused:
        scans(name)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert refused.value.en and refused.value.zh


def test_the_format_header_wins_over_the_shape() -> None:
    # A generic-looking body declared SF is read as SF, and refused as SF.
    with pytest.raises(PushRefused) as refused:
        scans("generic_delivered_cod.json", [("format", b"sf")])
    assert refused.value.field == "Body.WaybillRoute"


def test_an_unknown_format_header_is_refused() -> None:
    with pytest.raises(PushRefused) as refused:
        scans("sf_route_push.json", [("format", b"ems")])
    assert refused.value.code == "carrier.format_unknown"
