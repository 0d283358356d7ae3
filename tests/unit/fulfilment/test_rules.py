"""The rules file: mistakes are one line naming the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms_events.fulfilment import rules
from oms_events.fulfilment.regions import distance, region_of


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[locations.WH-SH]\nprovince = "沪"\n',
            r"locations\.WH-SH\.province: unknown province '沪'",
        ),
        ("[locations.WH-SH]\ncost = 1.0\n", r"locations\.WH-SH\.province: required; add it"),
        ("[sourcing]\nmax_shipment = 2\n", r"sourcing\.max_shipment: unknown field"),
        ('[sourcing]\nrank_by = ["nearest"]\n', r"sourcing\.rank_by\.0: .*'priority'"),
        (
            '[[carriers]]\ncarrier = "EMS"\n',
            r"carriers\.0\.carrier: unknown carrier 'EMS'; use one of SF",
        ),
        (
            '[[carriers]]\ncarrier = "SF"\nregions = ["华西"]\n',
            r"carriers\.0\.regions: unknown region '华西'",
        ),
        (
            '[sourcing.priorities]\nchannels = { tmall = ["WH-X"] }\n',
            r"sourcing\.priorities\.channels\.tmall: location 'WH-X' is not in \[locations\]; add",
        ),
        ("[sourcing\n", r"not valid TOML"),
    ],
)
def test_a_bad_field_is_named_with_its_fix(text: str, message: str) -> None:
    with pytest.raises(rules.RulesError, match=message) as caught:
        rules.parse(text, "rules.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("rules.toml: ")


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(rules.RulesError, match="OMS_FULFILMENT_RULES"):
        rules.load(tmp_path / "nope.toml")


def test_the_docstring_example_is_valid() -> None:
    doc = rules.__doc__ or ""
    example = doc.split(
        'Example (every table is optional; an empty file means "today\'s behaviour")::'
    )[1]
    example = example.split("A mistake is reported")[0]
    parsed = rules.parse("\n".join(line[4:] for line in example.splitlines()))
    assert parsed.locations["ST-SZ-01"].pickup and parsed.carriers[0].carrier == "SF"


def test_provinces_map_to_regions_and_distances() -> None:
    assert region_of("广西壮族自治区") == "华南" and region_of("黑龙江省") == "东北"
    assert region_of("Atlantis") is None
    assert distance("上海市", "上海") == 0
    assert distance("上海", "浙江") == 1
    assert distance("上海", "广东") == 2
    assert distance("黑龙江", "云南") == 3
