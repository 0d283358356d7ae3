"""The key store batched per Kafka transaction (issue 13): the rule, without PostgreSQL.

A fake store stands for the two round trips a batch makes (``_fetch`` before handling,
``_settle`` before the commit) with a table in a dict, and counts them; the key store's
own logic (cache, batch, conflicts) and the vault's re-sealing are the real ones.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms_events.avro.codec import SharedDecodes, SingleObjectCodec
from oms_events.domain.ids import natural_id
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.privacy import keystore, seal
from oms_events.privacy.keystore import KeyStore, Sealer
from oms_events.privacy.vault import Vault, sealing
from oms_events.settings import Settings
from tests.unit.engine.flow import place

SETTINGS = Settings()


class FakeStore(KeyStore):
    """``order_key``, ``customer_order`` and ``order_alias`` as dicts; every round trip
    counted in ``trips``."""

    def __init__(self, sealer: Sealer | None = None) -> None:
        super().__init__(SETTINGS, sealer or Sealer(bytes(32)))
        self.rows: dict[str, bytes | None] = {}  # order (hex) -> wrapped key
        self.links: set[tuple[bytes, str]] = set()
        self.aliases: dict[str, str] = {}
        self.trips = 0

    def _order(self, subject: str) -> str:
        return self.aliases.get(subject, subject)

    def _fetch(self, subjects: Sequence[str]) -> dict[str, AESGCM | None]:
        self.trips += 1
        found: dict[str, AESGCM | None] = {}
        for subject in subjects:
            order = self._order(subject)
            if order in self.rows:
                wrapped = self.rows[order]
                found[subject] = None if wrapped is None else self.sealer.unwrap(order, wrapped)
        return found

    def _settle(
        self, made: dict[str, bytes], links: list[tuple[bytes, str]], aliases: list[tuple[str, str]]
    ) -> set[str]:
        self.trips += 1
        went_in = set()
        for subject, wrapped in made.items():
            if subject not in self.aliases and subject not in self.rows:
                self.rows[subject] = wrapped
                went_in.add(subject)
        self.links.update((identity, self._order(s)) for identity, s in links)
        for alias, subject in aliases:
            self.aliases.setdefault(alias, self._order(subject))
        return went_in

    def _query(self, query: str, params: dict[str, Any]) -> AESGCM | None:
        # The immediate path (no batch open on this thread): make unless there, read.
        self.trips += 1
        subject = self._order(params["subject"].hex)
        if query is keystore._KEY_FOR:
            self.rows.setdefault(subject, params["wrapped"])
        wrapped = self.rows.get(subject)
        return None if wrapped is None else self.sealer.unwrap(subject, wrapped)

    def stored(self, subject: str) -> AESGCM | None:
        """The key in the table (what every reader will open with)."""
        wrapped = self.rows[self._order(subject)]
        return None if wrapped is None else self.sealer.unwrap(self._order(subject), wrapped)


def _order_id(number: str) -> str:
    return natural_id("order", "web", number).hex


def _placed(vault: Vault, number: str) -> Outgoing:
    return CommandWriter(SETTINGS, vault).record(place(number))


def _opened_by(store: FakeStore, value: bytes | None) -> dict[str, Any]:
    """``value`` as a process that has only the store's keys reads it."""
    reader = Vault(SingleObjectCodec(), FakeStore(store.sealer))
    reader_store = reader.keys
    assert isinstance(reader_store, FakeStore)
    reader_store.rows, reader_store.aliases = store.rows, store.aliases
    assert value is not None
    return reader.decode(value)[1]


def test_a_batch_of_new_orders_costs_one_round_trip_however_many_orders() -> None:
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    records = [_placed(vault, f"B-{n}") for n in range(50)]
    assert store.trips == 0 and store.rows == {}  # nothing written while handling
    sent = vault.settle(records)
    assert store.trips == 1
    assert len(store.rows) == 50 and len(store.links) == 50  # key and phone of each
    assert sent == records  # no race lost: the records go as sealed
    for record in sent:
        assert _opened_by(store, record.value)["customer"]["name"] == "张三"


def test_the_keys_a_batch_reads_are_read_in_one_query_before_handling() -> None:
    writer = FakeStore()
    values = [_placed(Vault(SingleObjectCodec(), writer), f"R-{n}").value for n in range(20)]
    reader_store = FakeStore(writer.sealer)
    reader_store.rows = writer.rows
    reader = Vault(SingleObjectCodec(), reader_store)
    reader.begin(values)
    assert reader_store.trips == 1
    for value in values:
        assert value is not None
        assert reader.decode(value)[1]["customer"]["phone"] == "13800000000"
    assert reader.settle([]) == [] and reader_store.trips == 1  # nothing made: no write


def test_a_key_another_process_made_first_wins_and_the_batch_is_sealed_again() -> None:
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    record = _placed(vault, "RACE-1")
    # Another process seals the same order and commits its key before this flush.
    theirs = AESGCM(bytes([7]) * 32)
    store.rows[_order_id("RACE-1")] = store.sealer.wrap(_order_id("RACE-1"), bytes([7]) * 32)
    [sent] = vault.settle([record])
    assert sent.value != record.value and sent.key == record.key
    assert len(store.rows) == 1  # one key for the order
    assert _opened_by(store, sent.value)["customer"]["name"] == "张三"
    assert store.trips == 2  # the write, then the winner read in a fresh statement
    # The next batch seals with the winner at once, and has nothing left to write.
    vault.begin([])
    [again] = vault.settle([_placed(vault, "RACE-1")])
    assert store.trips == 2
    assert again.value is not None and seal.MARK in again.value
    _, raw = SingleObjectCodec().decode(again.value)
    assert seal.open_token(theirs, raw["customer"]["phone"]) == "13800000000"


def test_a_forgotten_order_unknown_to_the_process_is_written_redacted() -> None:
    store = FakeStore()
    store.rows[_order_id("GONE-1")] = None  # oms customer forget left the row key-less
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    [sent] = vault.settle([_placed(vault, "GONE-1")])
    assert sent.value is not None
    _, raw = SingleObjectCodec().decode(sent.value)
    assert raw["customer"]["name"] == seal.REDACTED and raw["address"]["line1"] == seal.REDACTED
    assert store.rows[_order_id("GONE-1")] is None  # no new key for a forgotten order


def test_an_aborted_batch_writes_nothing_and_its_keys_are_never_used_again() -> None:
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    lost = _placed(vault, "ABORT-1")
    vault.abandon()
    assert store.trips == 0 and store.rows == {}
    vault.begin([])
    [sent] = vault.settle([_placed(vault, "ABORT-1")])
    assert _opened_by(store, sent.value)["customer"]["name"] == "张三"
    assert _opened_by(store, lost.value)["customer"]["name"] == seal.REDACTED


def test_a_shipment_is_linked_in_the_same_write_and_resealed_with_its_order() -> None:
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    order, shipment = _order_id("SHIP-1"), uuid.uuid4().hex
    vault.begin([])
    store.key_for(order, ["13800000000"], [shipment])
    scan = {"shipment_id": shipment, "signer": "张三"}
    value = vault.encode(
        "oms.shipment.commands.RecordCarrierUpdate", _carrier_update(scan), topic="t"
    )
    # The order's key was made elsewhere first: the signer follows it.
    store.rows[order] = store.sealer.wrap(order, bytes([9]) * 32)
    [sent] = vault.settle([Outgoing("t", shipment.encode(), value)])
    assert store.aliases == {shipment: order} and store.trips == 2
    assert _opened_by(store, sent.value)["signer"] == "张三"


def _carrier_update(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": "c-1",
        "shipment_id": str(uuid.UUID(fields["shipment_id"])),
        "carrier": "SF",
        "tracking_no": "SF1",
        "status": "delivered",
        "occurred_at": 0,
        "location": None,
        "reason": None,
        "eta": None,
        "signer": fields["signer"],
        "cod_collected": None,
    }


def test_a_token_the_batch_did_not_seal_is_sent_as_it_came() -> None:
    """A forwarded or dead-lettered input holds tokens under the stored key: a conflict
    on its order must not redact them."""
    writer = FakeStore()
    forwarded = _placed(Vault(SingleObjectCodec(), writer), "FWD-1")
    store = FakeStore(writer.sealer)
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])  # the input's token not read: its order unknown here
    mine = _placed(vault, "FWD-1")
    store.rows = writer.rows
    sent = vault.settle([forwarded, mine])
    assert sent[0] == forwarded
    assert _opened_by(store, sent[1].value)["customer"]["name"] == "张三"


def test_another_thread_outside_the_batch_writes_at_once() -> None:
    """The engine's processors share one codec: a batch is its thread's alone (an HTTP
    request's sealing, on another thread, is durable when it returns)."""
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    done = threading.Thread(target=lambda: _placed(vault, "HTTP-1"))
    done.start()
    done.join()
    assert _order_id("HTTP-1") in store.rows and store.trips == 1
    _placed(vault, "BATCH-1")
    assert _order_id("BATCH-1") not in store.rows
    vault.settle([])
    assert _order_id("BATCH-1") in store.rows


def test_a_plain_codec_has_nothing_to_batch() -> None:
    plain = sealing(SingleObjectCodec())
    plain.begin([b"x"])
    records = [Outgoing("t", None, b"v")]
    assert plain.settle(records) is records
    plain.abandon()


def test_a_reader_behind_shared_decodes_reads_a_batch_of_keys_at_once() -> None:
    """A projection's poll (``oms project`` shares decodes between projections)."""
    writer = FakeStore()
    values = [_placed(Vault(SingleObjectCodec(), writer), f"P-{n}").value for n in range(10)]
    store = FakeStore(writer.sealer)
    store.rows = writer.rows
    codec = SharedDecodes(Vault(SingleObjectCodec(), store))
    sealing(codec).prefetch(values)
    for value in values:
        assert value is not None
        assert codec.decode(value)[1]["customer"]["name"] == "张三"
    assert store.trips == 1


def test_a_second_batch_on_one_thread_is_refused_rather_than_losing_keys() -> None:
    store = FakeStore()
    vault = Vault(SingleObjectCodec(), store)
    vault.begin([])
    _placed(vault, "TWICE-1")
    with pytest.raises(RuntimeError, match="already open"):
        vault.begin([])
    vault.settle([])
    assert _order_id("TWICE-1") in store.rows
