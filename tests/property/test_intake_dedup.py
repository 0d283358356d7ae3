"""Property: any shuffle, duplication, interleaving and crash-restart of the deliveries of
a set of channel orders yields exactly that set of orders, each placed once.

Pure: the processor and dedup index with the Kafka transaction modelled as "a batch's
outputs and index changes are kept only if it commits; a crash loses the open batch,
its deliveries come again, and the index is rebuilt from the committed changelog".
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import Source
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.processor import Command, IntakeProcessor, Seen
from oms_events.intake.tables import Tables

FIXTURES = Path(__file__).parents[1] / "fixtures" / "channels"
TABLES = Tables.load()
POS_ROW = (
    "S009,{id},2024-06-18 15:02:11,6901234567892,1,125.00,,125.00,card,周杰,13800138000,"
    "浙江省,杭州市,西湖区,延安路 1 号,\n"
)


def _template(channel: str, name: str, placeholder: str) -> str:
    return (FIXTURES / channel / name).read_text(encoding="utf-8").replace(placeholder, "{id}")


TEMPLATES = {
    "web": _template("web", "order_1001.json", "5712345678901"),
    "tmall": _template("tmall", "trade_3891234567890123456.json", "3891234567890123456"),
    "jd": _template("jd", "order_281234567890.xml", "281234567890"),
    "pos": (FIXTURES / "pos" / "batch_S001_20240618.csv")
    .read_text(encoding="utf-8-sig")
    .splitlines(keepends=True)[0]
    + POS_ROW,
}


def render(channel: str, number: int) -> tuple[str, bytes]:
    """A valid delivery of order ``number`` of ``channel``, and its external id."""
    external = str(700000 + number)  # no leading zero: web ids are JSON numbers
    raw = TEMPLATES[channel].replace("{id}", external).encode()
    return (f"S009-{external}" if channel == "pos" else external), raw


orders = st.sets(
    st.tuples(st.sampled_from(sorted(TEMPLATES)), st.integers(1, 40)), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), wanted=orders)
def test_any_interleaving_of_redeliveries_and_crashes_places_each_order_once(
    data: st.DataObject, wanted: set[tuple[str, int]]
) -> None:
    deliveries = []
    for channel, number in sorted(wanted):
        copies = data.draw(st.integers(1, 3), label="copies")
        deliveries += [(channel, number)] * copies
    queue = data.draw(st.permutations(deliveries), label="order of arrival")

    committed_commands: list[Command] = []
    changelog: list[Seen] = []
    processor = IntakeProcessor(SingleObjectCodec(), TABLES)
    position = 0
    while position < len(queue):
        size = data.draw(st.integers(1, 4), label="batch size")
        batch = queue[position : position + size]
        outputs = []
        for channel, number in batch:
            _, raw = render(channel, number)
            outputs += processor.handle(channel, raw, Source(f"oms.intake.{channel}"))
        if data.draw(st.booleans(), label="crash before commit"):
            # kill -9: the open transaction is aborted; a new process rebuilds its index
            # from the committed changelog and gets the same batch again.
            index = DedupIndex()
            for entry in changelog:
                index.load(entry.channel, entry.external_id, *entry.history)
            processor = IntakeProcessor(SingleObjectCodec(), TABLES, index=index)
            continue
        committed_commands += [o for o in outputs if isinstance(o, Command)]
        changelog += [o for o in outputs if isinstance(o, Seen)]
        processor.index.commit()
        position += size

    placed = [(c.channel, c.external_id) for c in committed_commands]
    assert all(c.kind == "place" for c in committed_commands)
    assert sorted(placed) == sorted(
        (channel, render(channel, number)[0]) for channel, number in wanted
    )
