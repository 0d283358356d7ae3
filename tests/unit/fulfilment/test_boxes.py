"""Box choice: every unit packed, every box within its volume and weight, each unit
fitting its box's sides; an order too big for one box is split across boxes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.fulfilment.boxes import Unpackable, fits, pack
from oms_events.fulfilment.catalogue import Catalogue, SkuSize
from oms_events.fulfilment.rules import Box

BOXES = (
    Box(id="S", length_mm=200, width_mm=150, height_mm=100, max_weight_g=3000),
    Box(id="M", length_mm=350, width_mm=250, height_mm=200, max_weight_g=10000),
    Box(id="L", length_mm=600, width_mm=400, height_mm=400, max_weight_g=20000),
)

sizes = st.builds(
    SkuSize,
    length_mm=st.integers(10, 600),
    width_mm=st.integers(10, 400),
    height_mm=st.integers(10, 400),
    weight_g=st.integers(1, 20000),
)


@settings(max_examples=200, deadline=None)
@given(
    catalogue=st.dictionaries(st.sampled_from("ABCDEFGH"), sizes, min_size=1),
    quantities=st.lists(st.integers(1, 6), min_size=1, max_size=8),
)
def test_every_box_holds_what_is_put_in_it(
    catalogue: dict[str, SkuSize], quantities: list[int]
) -> None:
    skus = sorted(catalogue)
    lines = [(skus[i % len(skus)], q) for i, q in enumerate(quantities)]
    packed = pack(lines, Catalogue(catalogue), BOXES)
    # Every unit is in exactly one box.
    assert sorted(s for p in packed for s in p.skus) == sorted(
        sku for sku, q in lines for _ in range(q)
    )
    for p in packed:
        units = [catalogue[s] for s in p.skus]
        assert sum(u.volume for u in units) <= p.box.volume
        assert sum(u.weight_g for u in units) <= p.box.max_weight_g
        assert all(fits(u, p.box) for u in units)


def test_small_items_share_the_smallest_box_that_holds_them() -> None:
    catalogue = Catalogue({"TEA": SkuSize(100, 80, 50, 300), "CUP": SkuSize(90, 90, 90, 250)})
    [box] = pack([("TEA", 2), ("CUP", 1)], catalogue, BOXES)
    assert box.box.id == "S" and sorted(box.skus) == ["CUP", "TEA", "TEA"]


def test_too_heavy_for_one_box_is_split() -> None:
    catalogue = Catalogue({"IRON": SkuSize(100, 100, 100, 8000)})
    packed = pack([("IRON", 5)], catalogue, BOXES)
    assert sum(p.weight_g for p in packed) == 40000
    # Two irons per large box (20 kg), the last one alone in a medium box (10 kg).
    assert sorted(p.box.id for p in packed) == ["L", "L", "M"]


def test_an_item_no_box_fits_is_refused_by_name() -> None:
    catalogue = Catalogue({"SOFA": SkuSize(2000, 900, 800, 40000)})
    with pytest.raises(Unpackable, match="sku SOFA"):
        pack([("SOFA", 1)], catalogue, BOXES)
