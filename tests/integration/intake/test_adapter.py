"""The tmall adapter on the real broker: duplicates, a change and bad deliveries in;
exactly the right commands (read_committed) and dead letters out, across a restart."""

from __future__ import annotations

from oms_events import deadletter, topics
from oms_events.settings import Settings
from tests.integration.intake.conftest import FIXTURES, make_topics, placed, read, run_adapter, send

TRADE = "3891234567890123456"


def fx(name: str) -> bytes:
    return (FIXTURES / "tmall" / name).read_bytes()


def test_duplicates_changes_and_bad_deliveries(isolated: Settings) -> None:
    make_topics(isolated, "tmall")
    ok, unpaid = fx(f"trade_{TRADE}.json"), fx("trade_unpaid_fullwidth.json")
    send(
        isolated,
        "tmall",
        [
            (TRADE, ok),
            ("3891234567890123499", unpaid),
            (TRADE, ok),  # re-delivery
            ("3891234567890123402", fx("bad_phone.json")),
            (TRADE, ok),
            ("broken", fx("bad_not_json.json")),
            (TRADE, fx(f"trade_{TRADE}_changed.json")),  # the buyer changed the address
        ],
    )
    counts = run_adapter(isolated, "tmall", commands=3, letters=2)
    assert counts["placed"] == 2 and counts["changed"] == 1 and counts["duplicate"] == 2
    assert counts["intake.bad_phone"] == 1 and counts["intake.unparseable"] == 1

    commands = placed(isolated)
    assert sorted((name.rsplit(".", 1)[1], r["external_id"]) for name, r in commands) == [
        ("ChangeOrder", TRADE),
        ("PlaceOrder", TRADE),
        ("PlaceOrder", "3891234567890123499"),
    ]
    letters = read(isolated, topics.DEADLETTER)
    by_code = {deadletter.read(r.headers).reason.code: r for r in letters}
    assert set(by_code) == {"intake.bad_phone", "intake.unparseable"}
    bad_phone = by_code["intake.bad_phone"]
    letter = deadletter.read(bad_phone.headers)
    assert bad_phone.value == fx("bad_phone.json") and bad_phone.key == b"3891234567890123402"
    assert letter.reason.field == "receiver_mobile" and "电话" in letter.reason.zh
    assert letter.source.topic == topics.name(isolated, topics.intake("tmall"))
    assert letter.source.offset >= 0 and letter.processor == "intake"

    # A restart (new process state, index rebuilt from the changelog) then the channel
    # sends everything again: nothing new is placed.
    send(isolated, "tmall", [(TRADE, ok), ("3891234567890123499", unpaid)])
    send(isolated, "tmall", [("x", fx("bad_status.json"))])  # marks the end of the run
    again = run_adapter(isolated, "tmall", commands=3, letters=3)
    assert again["duplicate"] == 2 and again["placed"] == 0
    assert len(placed(isolated)) == 3
