"""The order keys: one AES-256 key per order, kept in PostgreSQL, wrapped by a master key.

* ``order_key`` holds each order's key wrapped (AES-GCM) by the master key, which lives
  in a file (``<data dir>/credentials/privacy.key``, 0600, made on first use): a dump of
  the database alone opens nothing.
* ``customer_order`` links a customer to their orders through HMAC-SHA256 of their
  phone or account (keyed by the master key): the store never holds a phone.
* ``order_alias`` names the order of a shipment, whose records (a signer's name) are
  sealed with its order's key.
* Forgetting a customer (:mod:`oms_events.privacy.forget`) deletes the keys of their
  orders; the rows stay, key-less, so a later record of such an order is written
  redacted instead of getting a new key.

Keys are cached in memory for ``privacy.key_ttl_s``: a process opens a forgotten
customer's records at most that long after ``oms customer forget``.

Inside a Kafka transaction the store is asked twice, whatever the number of records
(see :class:`KeyStore`'s ``begin`` / ``flush``): once before handling for the keys the
batch's records name, once before the commit for every key and link the batch made.

Why a key per order rather than per customer: every sealed record names its order
(allocations, address changes and snapshots carry no customer), so the key is found
from the record alone, in one step, and a change of phone keeps the order's key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms_events.avro.codec import CodecUnavailable
from oms_events.privacy.seal import KEY_BYTES
from oms_events.settings import Settings

KEYS_SQL = "keystore/001_keys.sql"  # applied to the key store's own schema only


class KeyStoreUnavailable(CodecUnavailable):
    """The key store could not be reached: not the record's fault, so the process retries
    (or stops for its supervisor) instead of dead-lettering it."""


class WrongMasterKey(KeyStoreUnavailable):
    """An order key wrapped by another master key than this process reads: every process
    must read the same OMS_PRIVACY_MASTER_KEY_FILE. A deployment's fault, not a record's."""


class Keys(Protocol):
    """Where the vault gets order keys (None: the order's customer was forgotten)."""

    def key_for(
        self, subject: str, identities: Sequence[str], aliases: Sequence[str] = ()
    ) -> AESGCM | None:
        """The key sealing ``subject``'s records, made on first use and linked to the
        customer's ``identities``; ``aliases`` (an order's shipments) are sealed with it
        from now on, so forgetting the order forgets them."""
        ...

    def key(self, subject: str) -> AESGCM | None:
        """The key of ``subject`` if it has one (to open its tokens)."""
        ...

    def prefetch(self, subjects: Iterable[str]) -> None:
        """Read the keys of ``subjects`` in one go (a reader's batch: nothing is made)."""
        ...

    def begin(self, subjects: Iterable[str]) -> None:
        """Open this thread's batch (one Kafka transaction): the keys of ``subjects`` are
        read in one go, and keys and links made until :meth:`flush` wait for it."""
        ...

    def flush(self) -> dict[str, Conflict]:
        """Make the batch's keys and links durable (one round trip) and close it; the
        subjects whose key another process made first, to seal again (see Conflict)."""
        ...

    def abandon(self) -> None:
        """Close the batch without writing (its transaction aborts)."""
        ...


class Conflict(NamedTuple):
    """A key this batch made for an order that had one already (another process made it
    first, or the order was forgotten): what was sealed with ``mine`` must be sealed
    with ``theirs`` (None: redacted) before it may be committed."""

    mine: AESGCM
    theirs: AESGCM | None


def master_key_path(settings: Settings) -> Path:
    """The master key file: ``privacy.master_key_file`` (the settings fill it from the
    dev data dir when the environment leaves it unset)."""
    return Path(settings.privacy.master_key_file)


def master_key(path: Path) -> bytes:
    """The master key in ``path``, generated (0600, never rewritten) when missing.

    Two processes starting at once both try; the first link wins and both read it.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    key = bytes.fromhex(path.read_text().strip())
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte hex key")
    return key


_PHONE = re.compile(r"\+?[\d\s\-()]{7,}")


def normal_identity(identity: str) -> str:
    """One spelling of a phone or account: ``+86 138-0013-8000``, ``13800138000`` and
    ``+8613800138000`` are the same customer; accounts compare without case."""
    text = identity.strip()
    for kind in ("phone:", "account:"):  # the merge rules' form (MergeReported identities)
        if text.startswith(kind):
            text = text[len(kind) :]
    if _PHONE.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) == 11 and digits.startswith("1"):
            digits = "86" + digits  # a mainland mobile without its country code
        return digits
    return text.lower()


class Sealer:
    """The master key's two uses: wrapping order keys and naming customers."""

    def __init__(self, master: bytes, path: Path | str = "the given master key") -> None:
        self.path = path
        self._wrap = AESGCM(hmac.new(master, b"oms-privacy-wrap", hashlib.sha256).digest())
        self._name = hmac.new(master, b"oms-privacy-identity", hashlib.sha256).digest()

    def identity(self, identity: str) -> bytes:
        """HMAC-SHA256 of a normalised phone or account: how the store names a customer."""
        return hmac.new(self._name, normal_identity(identity).encode(), hashlib.sha256).digest()

    def wrap(self, subject: str, key: bytes) -> bytes:
        """``key`` encrypted by the master key, bound to its order."""
        nonce = os.urandom(12)
        return nonce + self._wrap.encrypt(nonce, key, subject.encode())

    def unwrap(self, subject: str, wrapped: bytes) -> AESGCM:
        """The order key in ``wrapped`` (ValueError under another master key)."""
        try:
            return AESGCM(self._wrap.decrypt(wrapped[:12], wrapped[12:], subject.encode()))
        except InvalidTag as exc:
            raise WrongMasterKey(
                f"order key of {subject} is wrapped by another master key than "
                f"{self.path}; give every process the same OMS_PRIVACY_MASTER_KEY_FILE"
            ) from exc


class _Cache:
    """Recently used keys (and known absences) for ``ttl`` seconds, at most ``size``."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, AESGCM | None]] = OrderedDict()
        # (order, phone or account) already linked in the store by this process.
        self.linked: OrderedDict[tuple[str, str], None] = OrderedDict()

    def get(self, subject: str) -> tuple[bool, AESGCM | None]:
        hit = self._items.get(subject)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, subject: str, key: AESGCM | None) -> None:
        self._items[subject] = (time.monotonic() + self.ttl, key)
        self._items.move_to_end(subject)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def link(self, subject: str, identity: str) -> None:
        self.linked[(subject, identity)] = None
        while len(self.linked) > self.size:
            self.linked.popitem(last=False)


# One round trip: the order the subject is (itself, or the order a shipment alias names);
# make its key unless it has one, link the customer and the aliases, and answer the key
# the order has (the new one, or the one a race or an earlier process made).
_KEY_FOR = """
WITH target AS (
    SELECT coalesce(
        (SELECT order_id FROM order_alias WHERE alias = %(subject)s), %(subject)s
    ) AS order_id
), made AS (
    INSERT INTO order_key (order_id, wrapped_key) SELECT order_id, %(wrapped)s FROM target
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id, wrapped_key
), linked AS (
    INSERT INTO customer_order (identity, order_id)
    SELECT i, t.order_id FROM unnest(%(identities)s::bytea[]) AS i, target t
    ON CONFLICT DO NOTHING
), aliased AS (
    INSERT INTO order_alias (alias, order_id)
    SELECT a, t.order_id FROM unnest(%(aliases)s::uuid[]) AS a, target t
    ON CONFLICT DO NOTHING
)
SELECT order_id, wrapped_key FROM made
UNION ALL
SELECT k.order_id, k.wrapped_key FROM order_key k JOIN target t USING (order_id)
LIMIT 1
"""
_ALIAS = """
INSERT INTO order_alias (alias, order_id) VALUES (%(alias)s, %(order)s) ON CONFLICT DO NOTHING
"""
_KEY = """
SELECT order_id, wrapped_key FROM order_key WHERE order_id = coalesce(
    (SELECT order_id FROM order_alias WHERE alias = %(subject)s), %(subject)s
)
"""


# A batch's reads: the key of each subject (itself an order, or a shipment alias of one)
# that has a row; no row, no answer.
_KEYS = """
SELECT s.subject, k.order_id, k.wrapped_key
FROM unnest(%(subjects)s::uuid[]) AS s(subject)
JOIN order_key k ON k.order_id = coalesce(
    (SELECT order_id FROM order_alias WHERE alias = s.subject), s.subject
)
"""
# A batch's writes, in one statement holding only the parts it has (fewer parameters to
# send: most batches only link shipments): the keys it made (unless the order has one
# already, or the subject is a shipment alias), its customers' links and its shipment
# aliases (named by a subject that may itself be an alias). Answers the keys that went
# in: the others lost to a key already there.
_MADE = """made AS (
    INSERT INTO order_key (order_id, wrapped_key)
    SELECT m.subject, m.wrapped
    FROM unnest(%(made)s::uuid[], %(wrapped)s::bytea[]) AS m(subject, wrapped)
    WHERE NOT EXISTS (SELECT FROM order_alias a WHERE a.alias = m.subject)
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id
)"""
_LINKED = """linked AS (
    INSERT INTO customer_order (identity, order_id)
    SELECT l.identity,
           coalesce((SELECT order_id FROM order_alias WHERE alias = l.subject), l.subject)
    FROM unnest(%(identities)s::bytea[], %(linked)s::uuid[]) AS l(identity, subject)
    ON CONFLICT DO NOTHING
)"""
_ALIASED = """aliased AS (
    INSERT INTO order_alias (alias, order_id)
    SELECT x.alias,
           coalesce((SELECT order_id FROM order_alias WHERE alias = x.subject), x.subject)
    FROM unnest(%(aliases)s::uuid[], %(owners)s::uuid[]) AS x(alias, subject)
    ON CONFLICT DO NOTHING
)"""


@functools.cache
def _settle_sql(made: bool, linked: bool, aliased: bool) -> str:
    parts = [sql for sql, used in ((_MADE, made), (_LINKED, linked), (_ALIASED, aliased)) if used]
    answer = "SELECT order_id FROM made" if made else "SELECT NULL::uuid WHERE false"
    return "WITH " + ",\n".join(parts) + "\n" + answer


@dataclass
class _Batch:
    """What one thread's open transaction sealed without asking the store yet."""

    made: dict[str, tuple[AESGCM, bytes]] = field(default_factory=dict)  # key, wrapped
    known: dict[str, AESGCM | None] = field(default_factory=dict)  # its aliases' keys
    links: dict[tuple[str, str], None] = field(default_factory=dict)  # (subject, identity)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> subject naming it

    def __bool__(self) -> bool:
        return bool(self.made or self.links or self.aliases)


class KeyStore:
    """Order keys in PostgreSQL (schema ``privacy.schema_name``), cached in memory."""

    def __init__(self, settings: Settings, sealer: Sealer | None = None) -> None:
        self.settings = settings
        self.schema = settings.privacy.schema_name
        path = master_key_path(settings)
        self.sealer = sealer or Sealer(master_key(path), path)
        self.cache = _Cache(settings.privacy.key_ttl_s, settings.privacy.key_cache_size)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()  # the engine's processors share one codec
        # Open batches by thread: each processor is one thread with its own transaction;
        # other threads (the HTTP API, a CLI) write at once as before.
        self._batches: dict[int, _Batch] = {}
        self.statements = 0  # sent to PostgreSQL (benches count round trips with it)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            ensure_schema(self.settings)
            self._conn = psycopg.connect(
                self.settings.postgres.dsn,
                autocommit=True,
                application_name="oms-keystore",
                options=f"-c search_path={self.schema}",
                connect_timeout=5,
            )
        return self._conn

    def _query(self, query: str, params: dict[str, Any]) -> AESGCM | None:
        """The key a query answers as (order id, wrapped key); None: no key (forgotten)."""
        row = self._execute(query, params)
        if row is None or row[1] is None:
            return None
        return self.sealer.unwrap(UUID(str(row[0])).hex, bytes(row[1]))

    def _execute(self, query: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self._rows(query, params)
        return rows[0] if rows else None

    def _rows(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        self.statements += 1
        try:
            cursor = self._connection().execute(query, params, prepare=True)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            # Down, or its tables gone (a dropped schema): the store's problem, never the
            # record's. The next attempt reconnects and creates what is missing.
            if self._conn is not None:
                self._conn.close()
            _migrated.discard((self.settings.postgres.migrator_dsn, self.schema))
            where = f"key store (PostgreSQL schema {self.schema})"
            raise KeyStoreUnavailable(f"{where}: {exc}") from exc

    def key_for(
        self, subject: str, identities: Sequence[str], aliases: Sequence[str] = ()
    ) -> AESGCM | None:
        """See :class:`Keys`."""
        links = [*identities, *(f"alias:{a}" for a in aliases)]
        with self._lock:
            batch = self._batches.get(threading.get_ident())
            if batch is not None:
                return self._key_later(batch, subject, identities, aliases)
            known, key = self.cache.get(subject)
            missing = [i for i in links if (subject, i) not in self.cache.linked]
            if known and not missing:
                return key
            if known and key is not None and not identities:
                # An allocation's shipments, its order's key in hand: one plain insert
                # (a third of the CPU of the statement below).
                for alias in aliases:
                    self._execute(_ALIAS, {"alias": UUID(alias), "order": UUID(subject)})
                    self.cache.link(subject, f"alias:{alias}")
                return key
            # Wrapped for the subject: used only when the subject is the order itself
            # (an alias's order has its key already).
            wrapped = self.sealer.wrap(subject, secrets.token_bytes(KEY_BYTES))
            key = self._query(
                _KEY_FOR,
                {
                    "subject": UUID(subject),
                    "wrapped": wrapped,
                    "identities": [self.sealer.identity(i) for i in identities],
                    "aliases": [UUID(a) for a in aliases],
                },
            )
            self.cache.put(subject, key)
            for link in links:
                self.cache.link(subject, link)
            return key

    def key(self, subject: str) -> AESGCM | None:
        """See :class:`Keys`."""
        with self._lock:
            batch = self._batches.get(threading.get_ident())
            if batch is not None and subject in batch.made:
                return batch.made[subject][0]
            if batch is not None and subject in batch.known:
                return batch.known[subject]
            known, key = self.cache.get(subject)
            if not known:
                key = self._query(_KEY, {"subject": UUID(subject)})
                self.cache.put(subject, key)
            return key

    # --- one batch per Kafka transaction ------------------------------------------------
    #
    # Why make keys locally and settle conflicts after, rather than create the keys of
    # the batch's orders before handling: which orders a batch seals is known only while
    # handling (a timer's cancellation, a snapshot, a shipment's signer), and a key made
    # in advance for every id a record names would be a key for a payment or a stock
    # item too. So the batch reads the keys its records name (``begin``: the tokens in
    # them and their Kafka keys), makes a key locally for any other order it seals,
    # and writes all it made in one statement before the commit (``flush``). Two
    # processes racing for one order's key: INSERT ... ON CONFLICT DO NOTHING lets one
    # key in; the loser learns the winner (or that the order was forgotten) and its
    # records are sealed again with it (Vault.settle) before they are sent, so every
    # committed record of an order opens with the one key in the store. A transaction
    # that aborts after its flush leaves an orphan key: harmless.

    def prefetch(self, subjects: Iterable[str]) -> None:
        """See :class:`Keys`: one query for the keys of ``subjects`` not in the cache."""
        with self._lock:
            wanted = [s for s in dict.fromkeys(subjects) if not self.cache.get(s)[0]]
            if wanted:
                for subject, key in self._fetch(wanted).items():
                    self.cache.put(subject, key)

    def begin(self, subjects: Iterable[str]) -> None:
        """See :class:`Keys`."""
        if threading.get_ident() in self._batches:
            # Its keys would be lost with records sealed under them: a caller's bug.
            raise RuntimeError("a key batch is already open on this thread")
        self.prefetch(subjects)
        with self._lock:
            self._batches[threading.get_ident()] = _Batch()

    def flush(self) -> dict[str, Conflict]:
        """See :class:`Keys`."""
        with self._lock:
            batch = self._batches.pop(threading.get_ident(), None)
            if not batch:
                return {}
            links = list(batch.links)
            went_in = self._settle(
                {s: wrapped for s, (_, wrapped) in batch.made.items()},
                [(self.sealer.identity(identity), subject) for subject, identity in links],
                list(batch.aliases.items()),
            )
            lost = [s for s in batch.made if s not in went_in]
            # A fresh statement sees the winner's committed row (the insert waited for it).
            theirs = self._fetch(lost) if lost else {}
            if any(s not in theirs for s in lost):
                raise KeyStoreUnavailable(f"key store: no key for {lost} after a conflict")
            conflicts = {s: Conflict(batch.made[s][0], theirs[s]) for s in lost}
            for subject, (mine, _) in batch.made.items():
                self.cache.put(subject, theirs.get(subject, mine))
            # A shipment sealed with a key that lost is sealed again like its order.
            replaced = {id(c.mine): c for c in conflicts.values()}
            for alias, known in batch.known.items():
                lost_to = replaced.get(id(known)) if known is not None else None
                if lost_to is not None:
                    conflicts[alias] = lost_to
                self.cache.put(alias, known if lost_to is None else lost_to.theirs)
            for alias, subject in batch.aliases.items():
                self.cache.link(subject, f"alias:{alias}")
            for subject, identity in links:
                self.cache.link(subject, identity)
            return conflicts

    def abandon(self) -> None:
        """See :class:`Keys`."""
        with self._lock:
            self._batches.pop(threading.get_ident(), None)

    def _key_later(
        self, batch: _Batch, subject: str, identities: Sequence[str], aliases: Sequence[str]
    ) -> AESGCM | None:
        # key_for inside a batch: no round trip; what it makes waits for flush.
        if subject in batch.made:
            key: AESGCM | None = batch.made[subject][0]
        elif subject in batch.known:
            key = batch.known[subject]
        else:
            known, key = self.cache.get(subject)
            if not known:
                raw = secrets.token_bytes(KEY_BYTES)
                key = AESGCM(raw)
                batch.made[subject] = (key, self.sealer.wrap(subject, raw))
        for identity in identities:
            if (subject, identity) not in self.cache.linked:
                batch.links[(subject, identity)] = None
        for alias in aliases:
            if (subject, f"alias:{alias}") not in self.cache.linked:
                batch.aliases.setdefault(alias, subject)
            # The shipment's records in this batch seal with its order's key.
            batch.known.setdefault(alias, key)
        return key

    def _fetch(self, subjects: Sequence[str]) -> dict[str, AESGCM | None]:
        """The keys of those ``subjects`` that have a row (None: forgotten); one query."""
        rows = self._rows(_KEYS, {"subjects": [UUID(s) for s in subjects]})
        return {
            UUID(str(subject)).hex: None
            if wrapped is None
            else self.sealer.unwrap(UUID(str(order)).hex, bytes(wrapped))
            for subject, order, wrapped in rows
        }

    def _settle(
        self,
        made: dict[str, bytes],
        links: list[tuple[bytes, str]],
        aliases: list[tuple[str, str]],
    ) -> set[str]:
        """Write a batch (one statement); the subjects whose key went in."""
        params: dict[str, Any] = {}
        if made:
            params.update(made=[UUID(s) for s in made], wrapped=list(made.values()))
        if links:
            params.update(identities=[i for i, _ in links], linked=[UUID(s) for _, s in links])
        if aliases:
            params.update(
                aliases=[UUID(a) for a, _ in aliases], owners=[UUID(s) for _, s in aliases]
            )
        rows = self._rows(_settle_sql(bool(made), bool(links), bool(aliases)), params)
        return {UUID(str(order)).hex for (order,) in rows}

    def close(self) -> None:
        """Close the connection (a later call opens another)."""
        if self._conn is not None:
            self._conn.close()


class MemoryKeys:
    """Order keys in a dict: unit tests and benches of the vault, no PostgreSQL."""

    def __init__(self) -> None:
        self.keys: dict[str, AESGCM | None] = {}
        self.customers: dict[str, set[str]] = {}
        self.aliases: dict[str, str] = {}

    def key_for(
        self, subject: str, identities: Sequence[str], aliases: Sequence[str] = ()
    ) -> AESGCM | None:
        """See :class:`Keys`."""
        order = self.aliases.get(subject, subject)
        if order not in self.keys:
            self.keys[order] = AESGCM(secrets.token_bytes(KEY_BYTES))
        for identity in identities:
            self.customers.setdefault(normal_identity(identity), set()).add(order)
        for alias in aliases:
            self.aliases.setdefault(alias, order)
        return self.keys[order]

    def key(self, subject: str) -> AESGCM | None:
        """See :class:`Keys`."""
        return self.keys.get(self.aliases.get(subject, subject))

    def prefetch(self, subjects: Iterable[str]) -> None:
        """Nothing to read ahead: a dict answers at once."""

    def begin(self, subjects: Iterable[str]) -> None:
        """Nothing to batch: a dict answers at once."""

    def flush(self) -> dict[str, Conflict]:
        """Nothing waits: no conflict."""
        return {}

    def abandon(self) -> None:
        """Nothing waits."""

    def forget(self, identity: str) -> int:
        """Drop the keys of ``identity``'s orders; how many there were."""
        subjects = self.customers.pop(normal_identity(identity), set())
        for subject in subjects:
            self.keys[subject] = None
        return len(subjects)


_migrated: set[tuple[str, str]] = set()


def ensure_schema(settings: Settings) -> None:
    """Create the key store's schema and tables once per process (as the migrator, the
    owner of schema objects, like the projections' supervisor does)."""
    from oms_events.projection.migrate import MigrationChanged, migrate_files

    where = (settings.postgres.migrator_dsn, settings.privacy.schema_name)
    if where in _migrated:
        return
    try:
        with psycopg.connect(
            settings.postgres.migrator_dsn,
            autocommit=True,
            application_name="oms-keystore-migrate",
            connect_timeout=5,
        ) as conn:
            migrate_files(conn, settings.privacy.schema_name, [(KEYS_SQL, "privacy")])
    except (psycopg.Error, MigrationChanged) as exc:
        # A deployment's problem (down, or its SQL edited after it was applied): waited
        # out and logged by the process, never a record's fault.
        raise KeyStoreUnavailable(f"key store (PostgreSQL): {exc}") from exc
    _migrated.add(where)
