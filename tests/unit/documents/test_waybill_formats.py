"""Each carrier's sandbox waybill numbers have the carrier's real shape and never repeat."""

from __future__ import annotations

import re

import pytest

from oms_events.waybills.formats import FORMATS, waybill_format
from oms_events.waybills.issuer import MemorySerials, SandboxWaybillIssuer

# The shapes as the carriers print them (formats.py cites where each comes from),
# written out again here so a change to formats.py cannot pass by itself.
SHAPES = {
    "SF": r"SF\d{13}",
    "ZTO": r"7[358]\d{10}",
    "YTO": r"YT\d{13}",
    "STO": r"77\d{11}",
    "JD": r"JD[0-9A-Z]{13}",
}


@pytest.mark.parametrize("carrier", sorted(SHAPES))
def test_issued_numbers_have_the_carriers_shape_and_are_unique(carrier: str) -> None:
    issuer = SandboxWaybillIssuer(MemorySerials())
    numbers = [issuer.issue(carrier) for _ in range(2000)]
    assert all(re.fullmatch(SHAPES[carrier], n) for n in numbers), numbers[:3]
    assert len(set(numbers)) == len(numbers)
    assert all(FORMATS[carrier].is_valid(n) for n in numbers)


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("SF", "SF1234567890123"),
        ("SF", "123456789012"),  # the older 12-digit paper waybill
        ("ZTO", "751812345678"),
        ("ZTO", "75812345678901"),  # newer 14-digit e-waybill
        ("YTO", "YT7512345678901"),
        ("STO", "7712345678901"),
        ("STO", "268123456789"),  # older 268 range, 12 digits
        ("JD", "JDVA12345678901"),
        ("JD", "JD0123456789ABC"),
    ],
)
def test_the_carriers_known_numbers_are_accepted(carrier: str, number: str) -> None:
    assert waybill_format(carrier).is_valid(number)


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("SF", "SF123456789012"),  # one digit short
        ("SF", "YT1234567890123"),
        ("ZTO", "121234567890"),  # not a ZTO range
        ("YTO", "YT12345"),
        ("STO", "7812345678901"),
        ("JD", "JDva12345678901"),  # lower case
        ("JD", "JD12345"),
    ],
)
def test_other_shapes_are_refused(carrier: str, number: str) -> None:
    assert not waybill_format(carrier).is_valid(number)


def test_a_serial_beyond_the_carriers_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of its range"):
        waybill_format("ZTO").make(10**10)


def test_an_unknown_carrier_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: SF, ZTO, YTO, STO, JD"):
        SandboxWaybillIssuer(MemorySerials()).issue("DHL")
