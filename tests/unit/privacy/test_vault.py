"""Personal data sealed per order (oms_events.privacy), without Kafka or PostgreSQL: the
token, the vault codec over the real schemas, snapshots, and what forgetting does."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from hypothesis import given
from hypothesis import strategies as st

from oms_events import eventlog
from oms_events.avro.catalog import crc64_fingerprint, default_catalog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.ids import natural_id
from oms_events.domain.workflow import Workflow
from oms_events.engine.handling import Step
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter
from oms_events.engine.sourcing import StockView
from oms_events.privacy import seal
from oms_events.privacy.keystore import (
    KeyStoreUnavailable,
    MemoryKeys,
    Sealer,
    master_key,
    normal_identity,
)
from oms_events.privacy.marks import catalog_marks
from oms_events.privacy.vault import Vault
from oms_events.settings import Settings
from tests.unit.domain.samples import item, order
from tests.unit.engine.flow import place

SUBJECT = "0" * 31 + "1"
KEY = AESGCM(bytes(32))
PERSONAL = ("张三", "13800000000", "文三路 90 号")


@given(st.text())
def test_a_sealed_value_opens_to_itself(value: str) -> None:
    token = seal.seal(KEY, SUBJECT, value)
    assert seal.is_sealed(token) and seal.subject_of(token) == SUBJECT
    assert seal.open_token(KEY, token) == value


def test_a_token_without_its_key_or_under_another_or_altered_reads_redacted() -> None:
    token = seal.seal(KEY, SUBJECT, "13800000000")
    assert seal.open_token(None, token) == seal.REDACTED
    assert seal.open_token(AESGCM(bytes([1]) * 32), token) == seal.REDACTED
    moved = token.replace(SUBJECT, "0" * 31 + "2")  # the same ciphertext under another order
    assert seal.open_token(KEY, moved) == seal.REDACTED
    assert seal.open_token(KEY, token[:-4] + "AAAA") == seal.REDACTED


def _strip(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _strip(v) for k, v in raw.items() if not k.startswith("pii")}
    if isinstance(raw, list):
        return [_strip(v) for v in raw]
    return raw


def test_the_marks_leave_every_fingerprint_as_it_was() -> None:
    """``pii`` attributes are not in the Parsing Canonical Form: records written before
    them keep their writer schema, and ``oms schemas check`` sees no change."""
    from fastavro import parse_schema

    catalog = default_catalog()
    marked = catalog_marks(catalog)
    assert {
        "oms.order.OrderPlaced",
        "oms.order.commands.PlaceOrder",
        "oms.eventstore.Snapshot",
    } <= set(marked)
    for name in marked:
        schema = catalog.get(name)
        assert crc64_fingerprint(parse_schema(_strip(copy.deepcopy(schema.raw)))) == (
            schema.fingerprint
        ), name


def _placed() -> tuple[Vault, MemoryKeys, bytes]:
    keys = MemoryKeys()
    vault = Vault(SingleObjectCodec(), keys)
    command = place("PII-1")
    return vault, keys, CommandWriter(Settings(), vault).record(command).value


def test_a_command_on_the_wire_holds_tokens_that_any_avro_reader_reads_as_strings() -> None:
    vault, _, value = _placed()
    for text in ("张三", "13800000000"):
        assert text.encode() not in value
    # fastavro alone (no vault) reads the record: its personal fields are the tokens.
    _, raw = SingleObjectCodec().decode(value)
    assert seal.is_sealed(raw["customer"]["name"]) and seal.is_sealed(raw["address"]["line1"])
    assert raw["address"]["city"] == "杭州市"  # the region stays readable for analysts
    _, opened = vault.decode(value)
    assert opened["customer"]["name"] == "张三"
    assert opened["customer"]["phone"] == "13800000000"


def test_forgetting_the_customer_redacts_every_record_of_their_orders() -> None:
    vault, keys, value = _placed()
    assert keys.forget("+86 138-0000-0000") == 1  # the same phone, spelled otherwise
    _, opened = vault.decode(value)
    assert opened["customer"] == {"name": "[forgotten]", "phone": "[forgotten]", "account": None}
    assert opened["address"]["line1"] == "[forgotten]"
    # A later record of that order is written redacted, not under a new key.
    again = CommandWriter(Settings(), vault).record(place("PII-1")).value
    _, raw = SingleObjectCodec().decode(again)
    assert raw["customer"]["name"] == "[forgotten]"


def test_a_record_written_before_sealing_reads_as_it_was() -> None:
    plain = CommandWriter(Settings(), SingleObjectCodec()).record(place("OLD-1")).value
    _, opened = Vault(SingleObjectCodec(), MemoryKeys()).decode(plain)
    assert opened["customer"]["name"] == "张三"


def test_an_order_snapshot_is_sealed_and_restores_redacted_once_forgotten() -> None:
    keys = MemoryKeys()
    log = eventlog.EventLog(Vault(SingleObjectCodec(), keys))
    placed = order(external_id="SNAP-1")
    log.encode(placed.collect_events()[0])  # the order's first record makes its key
    # A merge lead keeps its members' facts (MergeReported) in its state too.
    member = {"order_no": "SO-2", "identities": ["phone:13800000000"], "address": "西湖路 1 号"}
    placed.merge_facts = ({**member, "order_id": "m-1", "kind": "joined", "reason": ""},)
    _, value, _ = log.encode_snapshot(Snapshot.take(placed), "order")
    for text in ("张三", "zhangsan", "13800000000", "西湖路"):
        assert text.encode() not in value, text
    snapshot, _ = log.snapshot(value)
    restored = snapshot.mutate(None)
    assert restored.customer == placed.customer and restored.address == placed.address
    assert restored.merge_facts == placed.merge_facts
    keys.forget("zhangsan")
    gone = log.snapshot(value)[0].mutate(None)
    assert gone.customer.name == "[forgotten]" and gone.address.line1 == "[forgotten]"
    assert gone.address.city == placed.address.city
    assert gone.merge_facts[0]["identities"] == ["[forgotten]"]
    assert gone.merge_facts[0]["order_no"] == "SO-2"


@given(st.text().filter(str.strip))
def test_an_order_snapshot_restores_any_personal_text_exactly(name: str) -> None:
    """Tokens in a snapshot's JSON are opened in place (not by walking the tree): a
    name with quotes, backslashes, newlines or any script must come back as it was."""
    log = eventlog.EventLog(Vault(SingleObjectCodec(), MemoryKeys()))
    placed = order(external_id="SNAP-2")
    placed.customer = dataclasses.replace(placed.customer, name=name)
    log.encode(placed.collect_events()[0])
    _, value, _ = log.encode_snapshot(Snapshot.take(placed), "order")
    restored = log.snapshot(value)[0].mutate(None)
    assert restored.customer == placed.customer and restored.address == placed.address


def test_a_stock_item_snapshot_is_left_plain_and_makes_no_key() -> None:
    keys = MemoryKeys()
    log = eventlog.EventLog(Vault(SingleObjectCodec(), keys))
    stock = item()
    _, value, _ = log.encode_snapshot(Snapshot.take(stock), "inventory")
    assert keys.keys == {}
    assert seal.MARK not in value
    assert log.snapshot(value)[0].mutate(None).sku == stock.sku


def test_phones_and_accounts_name_one_customer_however_spelled() -> None:
    same = {"+8613800138000", "13800138000", "+86 138-0013-8000", "phone:13800138000"}
    assert {normal_identity(p) for p in same} == {"8613800138000"}
    assert normal_identity("Li.Lei@Example.com") == normal_identity("account:li.lei@example.com")
    sealer = Sealer(bytes(32))
    assert sealer.identity("13800138000") == sealer.identity("+8613800138000")
    assert b"13800138000" not in sealer.identity("13800138000")


def test_the_master_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "credentials" / "privacy.key"
    first = master_key(path)
    assert master_key(path) == first and len(first) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.dumps(sorted(p.name for p in path.parent.iterdir())) == '["privacy.key"]'


class _Down:
    """A key store that cannot be reached."""

    def key_for(self, subject: str, identities: Any, aliases: Any = ()) -> AESGCM | None:
        raise KeyStoreUnavailable("key store (PostgreSQL): connection refused")

    def key(self, subject: str) -> AESGCM | None:
        raise KeyStoreUnavailable("key store (PostgreSQL): connection refused")


@pytest.mark.parametrize("down_at", ["decode", "encode"])
def test_an_unreachable_key_store_stops_the_transaction_and_dead_letters_nothing(
    down_at: str,
) -> None:
    """Not the record's fault: the engine's step raises (the processor waits the store
    out and reads the batch again), it never dead-letters the command as bad input."""
    settings = Settings().replace(kafka={"topic_prefix": "", "partitions": 1})
    up = Vault(SingleObjectCodec(), MemoryKeys())
    written = CommandWriter(settings, up).record(place("DOWN-1"))
    # Down when opening the command's tokens, or (written plain) when sealing its events.
    value = written.value
    if down_at == "encode":
        value = CommandWriter(settings, SingleObjectCodec()).record(place("DOWN-1")).value
    codec = Vault(SingleObjectCodec(), _Down())
    step = Step(OrderService(OrderSaga(Workflow(), StockView())), settings, codec)
    out = Outbox(settings, codec)
    record = eventlog.Record(value, written.key, written.headers, topic=written.topic, partition=0)
    with pytest.raises(KeyStoreUnavailable):
        step(record, Partition(0), out)
    assert not any(o.topic.endswith("deadletter") for o in out.records)


def test_a_forgotten_customer_has_no_phone_or_mail_to_be_told_by() -> None:
    from consumers.notifications import contact

    redacted = {"name": seal.REDACTED, "phone": seal.REDACTED, "account": seal.REDACTED}
    who = contact({"customer": redacted, "address": {"country": "CN"}})
    assert (who["phone"], who["email"]) == (None, None)


def test_a_name_that_merely_starts_like_a_token_is_sealed_too() -> None:
    vault = Vault(SingleObjectCodec(), MemoryKeys())
    command = place("PII-2")
    odd = dataclasses.replace(
        command, customer=dataclasses.replace(command.customer, name="pii1:x")
    )
    value = CommandWriter(Settings(), vault).record(odd).value
    assert b"pii1:x" not in value
    assert vault.decode(value)[1]["customer"]["name"] == "pii1:x"


def test_a_signer_is_sealed_with_the_key_of_the_order_its_parcel_ships() -> None:
    """A shipment's records name no customer: its allocation links it to its order, so
    forgetting the customer forgets who signed for the parcel too."""
    keys = MemoryKeys()
    vault = Vault(SingleObjectCodec(), keys)
    CommandWriter(Settings(), vault).record(place("SIGN-1"))  # the order's key
    order_id = natural_id("order", "web", "SIGN-1")
    shipment_id = uuid.uuid4()
    allocation = vault.marks["oms.allocation.Allocation"]
    keys.key_for(order_id.hex, [], allocation.aliases({"shipment_id": str(shipment_id)}))
    scan = {"shipment_id": str(shipment_id), "signer": "张三"}
    sealed = vault._seal(vault.marks["oms.shipment.commands.RecordCarrierUpdate"], scan)
    assert seal.is_sealed(sealed["signer"]) and seal.subject_of(sealed["signer"]) == shipment_id.hex
    assert vault._open_one(sealed["signer"]) == "张三"
    keys.forget("13800000000")
    assert vault._open_one(sealed["signer"]) == "[forgotten]"
