"""Scan-to-verify packing, for any parcel: every order of its exact units passes, and one
unit more, less or foreign never does."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from oms_events.documents.verify import check

SKUS = st.sampled_from(["TEA", "CUP", "PEN", "MUG", "茶叶-01"])
PARCELS = st.dictionaries(SKUS, st.integers(1, 5), min_size=1)


def units(parcel: dict[str, int]) -> list[str]:
    return [sku for sku, n in parcel.items() for _ in range(n)]


@given(PARCELS, st.randoms())
def test_the_exact_units_in_any_order_pass(parcel: dict[str, int], rnd: random.Random) -> None:
    scans = units(parcel)
    rnd.shuffle(scans)
    assert check(parcel, scans) == []


@given(PARCELS, st.data())
def test_one_unit_more_less_or_foreign_is_refused(
    parcel: dict[str, int], data: st.DataObject
) -> None:
    scans = units(parcel)
    change = data.draw(st.sampled_from(["more", "less", "foreign"]))
    if change == "more":
        scans.append(data.draw(st.sampled_from(sorted(parcel))))
    elif change == "less":
        scans.pop(data.draw(st.integers(0, len(scans) - 1)))
    else:
        scans.append("NOT-IN-PARCEL")
    found = check(parcel, scans)
    assert len(found) == 1
    assert found[0].kind == {"more": "over", "less": "short", "foreign": "unknown"}[change]
