"""Deterministic ids must never change: every stored aggregate is found by them."""

from __future__ import annotations

import json
from uuid import NAMESPACE_URL, UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from oms_events.domain.ids import OMS_NAMESPACE, natural_id


def test_namespace_is_the_published_one() -> None:
    assert uuid5(NAMESPACE_URL, "https://oms-events/ids") == OMS_NAMESPACE


@given(
    st.text(min_size=1),
    st.lists(st.one_of(st.text(), st.integers(), st.uuids()), min_size=1, max_size=4),
)
def test_id_is_uuid5_of_the_json_key(kind: str, parts: list[str | int | UUID]) -> None:
    # The definition the ids were first derived with; a faster key builder must agree.
    key = json.dumps([kind, *(str(p) for p in parts)], ensure_ascii=False)
    assert natural_id(kind, *parts) == uuid5(OMS_NAMESPACE, key)


def test_parts_never_run_together() -> None:
    assert natural_id("inventory", "a:b", "c") != natural_id("inventory", "a", "b:c")
    assert natural_id("inventory", '"', "") != natural_id("inventory", "", '"')
