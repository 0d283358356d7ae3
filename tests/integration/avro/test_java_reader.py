"""Apache Avro for Java decodes the records our single-object codec writes.

The Java program is given only the schema files and the bytes: it finds each writer
schema by the header's fingerprint, as the Avro specification defines it.
"""

from __future__ import annotations

import io
import json
from typing import Any

from fastavro import json_reader

from oms_events.avro.catalog import SCHEMAS_DIR
from oms_events.avro.codec import SingleObjectCodec
from oms_events.cli.demo import PLACE_ORDER, sample_order
from tests.avro_samples import sample
from tests.integration.avro.java_reader import read_single_object

# The package's schemas/ may be a symlink into the checkout: Java walks the real folder.
SCHEMAS = SCHEMAS_DIR.resolve()


def _from_avro_json(codec: SingleObjectCodec, name: str, line: str) -> dict[str, Any]:
    # Java prints Avro's JSON encoding; fastavro reads it back under the same schema.
    parsed = codec.catalog.get(name).parsed
    return next(iter(json_reader(io.StringIO(line), parsed)))  # type: ignore[no-any-return]


def test_java_decodes_a_record_of_every_project_schema(java_classpath: str) -> None:
    codec = SingleObjectCodec()
    names = sorted(codec.catalog.by_name)
    written = {name: sample(codec.catalog.get(name).raw) for name in names}
    written[PLACE_ORDER] = sample_order()  # Chinese text, amounts, nested lines
    records = [codec.encode(name, written[name], topic="any") for name in names]
    lines = read_single_object(java_classpath, SCHEMAS, records)
    assert len(lines) == len(names)
    errors = [(n, line) for n, line in zip(names, lines, strict=True) if line.startswith("error")]
    assert errors == []
    for name, line in zip(names, lines, strict=True):
        assert (
            _from_avro_json(codec, name, line)
            == codec.decode(codec.encode(name, written[name], topic="any"))[1]
        )
    place = json.loads(lines[names.index(PLACE_ORDER)])
    assert place["customer"]["name"] == "张三"


def test_java_finds_no_schema_for_the_old_reversed_header(java_classpath: str) -> None:
    codec = SingleObjectCodec()
    good = codec.encode(PLACE_ORDER, sample_order(), topic="oms.order.commands")
    reversed_header = good[:2] + good[2:10][::-1] + good[10:]
    assert read_single_object(java_classpath, SCHEMAS, [reversed_header])[0].startswith("error:")
