"""Which fields of a schema are personal, whose order a record is, who its customer is.

All three are said in the ``.avsc`` files, as attributes Avro ignores (they are not part
of the Parsing Canonical Form, so fingerprints and ``oms schemas check`` do not move):

* ``"pii": true`` on a field: its string (or array of strings) is sealed;
  ``"pii": "state"`` on a snapshot's ``state``: the tagged JSON of an aggregate, whose
  dataclasses named like a marked record (``Customer``, ``Address``) have those
  fields sealed;
* ``"pii_subject"`` on the record: the field naming the order whose key seals it
  (``"order_id"``, ``"originator_id"``), or ``["channel", "external_id"]``, from which
  the order id derives (``PlaceOrder``, ``ChangeOrder``);
* ``"pii_links"`` on the record: fields naming ids (an allocation's shipment) whose own
  records are sealed with this order's key from now on;
* ``"pii_customer"`` on the record: the dotted path of the customer (a record with
  ``phone`` and ``account``) or of a list of identities, linking the order to the
  customer so that forgetting the customer reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from oms_events.avro.catalog import Catalog, Schema
from oms_events.domain.ids import natural_id

SEAL = "seal"  # a leaf: the value (str, None or list of str) is sealed
STATE = "state"  # a leaf: tagged JSON of an aggregate's state

# A record's plan: field name -> SEAL, STATE or the plan of a nested record.
Plan = dict[str, Any]


@dataclass(frozen=True)
class Marks:
    """What the vault needs to know of one record schema."""

    name: str
    plan: Plan
    subject: tuple[str, ...]
    customer: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # fields naming ids sealed with this order's key
    # Short record name -> its personal fields (Customer -> name, phone, account): what
    # a snapshot's dataclasses of that name have sealed.
    records: dict[str, frozenset[str]] = field(default_factory=dict)

    def subject_of(self, record: Mapping[str, Any]) -> str:
        """The order id (32 hex) whose key seals ``record``."""
        if len(self.subject) == 2:
            return natural_id("order", record[self.subject[0]], record[self.subject[1]]).hex
        value = record[self.subject[0]]
        if isinstance(value, UUID):
            return value.hex
        return UUID(value).hex

    def aliases(self, record: Mapping[str, Any]) -> list[str]:
        """The ids (32 hex) of ``pii_links`` in ``record``: a shipment of the order."""
        found = []
        for name in self.links:
            value = record.get(name)
            if value:
                found.append((value if isinstance(value, UUID) else UUID(str(value))).hex)
        return found

    def identities(self, record: Mapping[str, Any]) -> list[str]:
        """The customer's phone and account (or the listed identities) in ``record``."""
        value: Any = record
        for step in self.customer:
            if not isinstance(value, Mapping):
                return []
            value = value.get(step)
        if isinstance(value, Mapping):
            return [v for v in (value.get("phone"), value.get("account")) if v]
        if isinstance(value, list | tuple | frozenset | set):
            return [v for v in value if isinstance(v, str) and v]
        return []


def _plan(
    raw: Any, named: dict[str, Plan], records: dict[str, set[str]], namespace: str
) -> Plan | None:
    """The plan of a type (None when nothing in it is personal)."""
    if isinstance(raw, str):
        return named.get(raw) or named.get(raw.rsplit(".", 1)[-1])
    if isinstance(raw, list):
        found = [p for p in (_plan(t, named, records, namespace) for t in raw) if p]
        return found[0] if found else None
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    if kind == "array":
        return _plan(raw["items"], named, records, namespace)
    if kind != "record":
        return _plan(kind, named, records, namespace) if isinstance(kind, dict | list) else None
    plan: Plan = {}
    for f in raw["fields"]:
        mark = f.get("pii")
        if mark is True:
            plan[f["name"]] = SEAL
            records.setdefault(raw["name"], set()).add(f["name"])
        elif mark == STATE:
            plan[f["name"]] = STATE
        else:
            inner = _plan(f["type"], named, records, namespace)
            if inner:
                plan[f["name"]] = inner
    named[raw["name"]] = plan
    return plan or None


def compile_marks(schema: Schema) -> tuple[Marks | None, dict[str, set[str]]]:
    """The marks of one schema (None when it has no personal field), and the personal
    fields of each record type it defines."""
    records: dict[str, set[str]] = {}
    plan = _plan(schema.raw, {}, records, schema.raw.get("namespace", ""))
    if not plan:
        return None, records
    subject = schema.raw.get("pii_subject")
    if not subject:
        raise ValueError(f"{schema.path}: personal fields but no pii_subject naming its order")
    subject = (subject,) if isinstance(subject, str) else tuple(subject)
    customer = (
        tuple(str(schema.raw.get("pii_customer", "")).split("."))
        if schema.raw.get("pii_customer")
        else ()
    )
    links = tuple(schema.raw.get("pii_links") or ())
    return Marks(schema.name, plan, subject, customer, links), records


def catalog_marks(catalog: Catalog, extra: Iterable[Schema] = ()) -> dict[str, Marks]:
    """Marks of every schema of ``catalog`` that has personal fields, by full name."""
    found: dict[str, Marks] = {}
    records: dict[str, set[str]] = {}
    for schema in [*catalog.by_name.values(), *extra]:
        marks, defined = compile_marks(schema)
        for name, fields in defined.items():
            records.setdefault(name, set()).update(fields)
        if marks is not None:
            found[schema.name] = marks
    frozen = {name: frozenset(fields) for name, fields in records.items()}
    return {
        name: Marks(m.name, m.plan, m.subject, m.customer, m.links, frozen)
        for name, m in found.items()
    }


def rewrite(value: Any, plan: Plan, leaf: Callable[[str, Any], Any]) -> Any:
    """A copy of ``value`` with each marked leaf replaced by ``leaf(kind, old)``; parts
    the plan does not reach are shared, never changed (the caller's record stays)."""
    if isinstance(value, list):
        return [rewrite(v, plan, leaf) for v in value]
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    for name, node in plan.items():
        if name not in out or out[name] is None:
            continue
        out[name] = (
            leaf(node, out[name]) if isinstance(node, str) else rewrite(out[name], node, leaf)
        )
    return out


def strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` (a str, or a list of them) with ``fn`` applied to each string."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list | tuple):
        return [fn(v) if isinstance(v, str) else v for v in value]
    return value
