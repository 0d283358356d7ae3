"""The sourcing decision: an order + a stock view + the rules -> a plan.

Pure: the plan says, per line, which location (or drop-ship supplier) should serve
it and which rule chose it; the order saga turns it into ReserveLines and the
inventory still has the last word. The steps, in order:

1. store pickup (门店自取): an order paid at pickup goes whole to the pickup store
   in the ship-to city (else province) when the store has every line;
2. drop-ship (代发): a sku a supplier ships goes to that supplier (``only_when_short``:
   only when no location of ours has the units);
3. one location for the whole order when one has everything (one parcel);
4. otherwise line by line, a location already serving the order first, within
   ``max_shipments`` locations, a line split over locations only if ``split_lines``.

Locations are ranked by ``rank_by``: ``priority`` (the channel's, then the ship-to
region's list), ``distance`` (region hops from the location's province to the
ship-to province), ``cost`` (per shipment), ``stock`` (most available). The rule
recorded for a location is the first criterion in ``rank_by`` that favours it on the
rules alone (:func:`explain`), so the allocation can name it later without the stock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from oms_events.fulfilment.regions import FAR, distance, province_key, region_of
from oms_events.fulfilment.rules import Rules

STORE_PICKUP = "store_pickup"
DROPSHIP = "dropship"
MOST_STOCK = "most_stock"  # no rule favours the location: it simply had the units


class Stock(Protocol):
    """What sourcing reads of the inventory (``engine.sourcing.StockView`` is one)."""

    def available(self, sku: str, location: str) -> int:
        """Units believed reservable."""
        ...

    def holders(self, sku: str) -> set[str]:
        """Locations that stock ``sku``."""
        ...


@dataclass(frozen=True)
class Line:
    """An order line as sourcing sees it."""

    line_no: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class SourcingOrder:
    """What sourcing needs of an order."""

    channel: str
    province: str | None
    city: str | None
    lines: tuple[Line, ...]
    pickup: bool = False  # paid at pickup (自提): the buyer collects it at a store


@dataclass(frozen=True)
class Assignment:
    """``quantity`` units of a line from ``location``, chosen by ``rule``."""

    line_no: int
    sku: str
    quantity: int
    location: str
    rule: str


@dataclass(frozen=True)
class DropShip:
    """A line a supplier ships (a purchase order on ``oms.dropship``)."""

    line_no: int
    sku: str
    quantity: int
    supplier: str


@dataclass(frozen=True)
class Plan:
    """Where each line goes; ``unserved`` lines have no location within the rules."""

    assignments: tuple[Assignment, ...] = ()
    dropship: tuple[DropShip, ...] = ()
    unserved: tuple[int, ...] = ()

    @property
    def locations(self) -> set[str]:
        """Locations shipping part of the order (one shipment each)."""
        return {a.location for a in self.assignments}

    def location_of(self, line_no: int) -> Assignment | None:
        """The (largest) assignment of a line, or None."""
        mine = [a for a in self.assignments if a.line_no == line_no]
        return max(mine, key=lambda a: a.quantity, default=None)


@dataclass
class _Ranking:
    order: SourcingOrder
    rules: Rules
    totals: dict[str, int] = field(default_factory=dict)

    def listed(self) -> tuple[str, ...]:
        p = self.rules.sourcing.priorities
        return (*p.channels.get(self.order.channel, ()), *p.regions.get(_region(self.order), ()))

    def priority(self, location: str) -> int:
        listed = self.listed()
        return listed.index(location) if location in listed else len(listed)

    def distance(self, location: str) -> int:
        entry = self.rules.location_of(location)
        return FAR if entry is None else distance(entry.province, self.order.province)

    def cost(self, location: str) -> float:
        entry = self.rules.location_of(location)
        return float("inf") if entry is None else entry.cost

    def key(self, location: str) -> tuple[float, ...]:
        values = {
            "priority": lambda: float(self.priority(location)),
            "distance": lambda: float(self.distance(location)),
            "cost": lambda: self.cost(location),
            "stock": lambda: -float(self.totals.get(location, 0)),
        }
        return tuple(values[c]() for c in self.rules.sourcing.rank_by)


def _region(order: SourcingOrder) -> str:
    return region_of(order.province) or ""


def explain(order: SourcingOrder, location: str, rules: Rules) -> str:
    """The rule that picks ``location`` for ``order`` on the rules alone:
    ``store_pickup``, ``dropship`` (a supplier), else the first criterion of ``rank_by``
    on which it beats every other location the file describes (``priority``,
    ``distance``, ``cost``), still tied before it; else ``most_stock`` (the rules did not
    single it out: it had the units)."""
    entry = rules.location_of(location)
    if order.pickup and entry is not None and entry.pickup:
        return STORE_PICKUP
    if location in rules.supplier_ids:
        return DROPSHIP
    ranking = _Ranking(order, rules)
    pool = {loc for loc, e in rules.locations.items() if not e.pickup} | {location}
    for criterion in rules.sourcing.rank_by:
        if criterion == "stock":
            break
        value = {
            "priority": lambda loc: float(ranking.priority(loc)),
            "distance": lambda loc: float(ranking.distance(loc)),
            "cost": ranking.cost,
        }[criterion]
        best = min(value(loc) for loc in pool)
        if value(location) > best:
            break
        pool = {loc for loc in pool if value(loc) == best}
        if pool == {location}:
            return criterion
    return MOST_STOCK


def plan(
    order: SourcingOrder,
    stock: Stock,
    rules: Rules,
    *,
    prefer: Iterable[str] = (),
    exclude: Mapping[int, Iterable[str]] | None = None,
) -> Plan:
    """Where the lines of ``order`` should come from.

    ``prefer``: locations already serving the order (held or asked). ``exclude``:
    per line, locations that refused it already. A line with nothing excluded and
    no location seeing enough still goes to the best-ranked holder (the view lags;
    only the inventory may say no); with exclusions it is unserved instead.
    """
    excluded = {n: set(locs) for n, locs in (exclude or {}).items()}
    # Stores keep their shelves for pickup orders; a supplier's stock is its own.
    not_ours = {loc for loc, e in rules.locations.items() if e.pickup} | rules.supplier_ids
    lines = list(order.lines)

    def ours(sku: str, line_no: int) -> list[str]:
        return sorted(
            loc
            for loc in stock.holders(sku)
            if loc not in not_ours and loc not in excluded.get(line_no, set())
        )

    # 1. Store pickup: the whole order from the buyer's store, if it has it all.
    if order.pickup:
        store = _pickup_store(order, rules)
        if store is not None and all(
            store not in excluded.get(ln.line_no, set())
            and stock.available(ln.sku, store) >= ln.quantity
            for ln in lines
        ):
            return Plan(
                tuple(
                    Assignment(ln.line_no, ln.sku, ln.quantity, store, STORE_PICKUP) for ln in lines
                )
            )
    # 2. Drop-ship.
    dropship: list[DropShip] = []
    for ln in list(lines):
        supplier = next((s for s in rules.suppliers if ln.sku in s.skus), None)
        if supplier is None or supplier.id in excluded.get(ln.line_no, set()):
            continue  # none, or it refused the line: our own stock is tried
        short = all(stock.available(ln.sku, loc) < ln.quantity for loc in ours(ln.sku, ln.line_no))
        if not supplier.only_when_short or short:
            dropship.append(DropShip(ln.line_no, ln.sku, ln.quantity, supplier.id))
            lines.remove(ln)
    ranking = _Ranking(order, rules)
    candidates = sorted({loc for ln in lines for loc in ours(ln.sku, ln.line_no)})
    for loc in candidates:
        ranking.totals[loc] = sum(max(stock.available(ln.sku, loc), 0) for ln in lines)
    preferred = set(prefer)
    ranked = sorted(candidates, key=lambda loc: (loc not in preferred, ranking.key(loc), loc))

    def enough(ln: Line, loc: str, left: Mapping[tuple[str, str], int]) -> bool:
        return loc not in excluded.get(ln.line_no, set()) and left[(ln.sku, loc)] >= ln.quantity

    left = {(ln.sku, loc): stock.available(ln.sku, loc) for ln in lines for loc in candidates}

    def assign(ln: Line, loc: str, quantity: int) -> Assignment:
        left[(ln.sku, loc)] -= quantity
        return Assignment(ln.line_no, ln.sku, quantity, loc, explain(order, loc, rules))

    # 3. One location for everything, the best-ranked that has it all.
    for loc in ranked:
        if all(enough(ln, loc, left) for ln in lines) and lines:
            return Plan(tuple(assign(ln, loc, ln.quantity) for ln in lines), tuple(dropship))
    # 4. Line by line.
    limit = rules.sourcing.max_shipments or len(candidates) + 1
    used: list[str] = [loc for loc in ranked if loc in preferred]
    assignments: list[Assignment] = []
    unserved: list[int] = []
    for ln in lines:
        room = len(used) < limit
        options = [loc for loc in used if enough(ln, loc, left)] + [
            loc for loc in ranked if room and loc not in used and enough(ln, loc, left)
        ]
        if options:
            loc = options[0]
            if loc not in used:
                used.append(loc)
            assignments.append(assign(ln, loc, ln.quantity))
            continue
        if rules.sourcing.split_lines:
            parts = _split(ln, ranked, used, limit, left, excluded.get(ln.line_no, set()))
            if parts is not None:
                for loc, quantity in parts:
                    if loc not in used:
                        used.append(loc)
                    assignments.append(assign(ln, loc, quantity))
                continue
        holders = [loc for loc in ranked if loc in used or room]
        if not excluded.get(ln.line_no) and holders:
            # The view may lag: ask the best-ranked holder, the inventory decides.
            best = holders[0]
            if best not in used:
                used.append(best)
            assignments.append(assign(ln, best, ln.quantity))
        else:
            unserved.append(ln.line_no)
    return Plan(tuple(assignments), tuple(dropship), tuple(unserved))


def _split(
    ln: Line,
    ranked: list[str],
    used: list[str],
    limit: int,
    left: Mapping[tuple[str, str], int],
    excluded: set[str],
) -> list[tuple[str, int]] | None:
    """The line's units over used locations, then new ones within ``limit``, or None."""
    parts: list[tuple[str, int]] = []
    need, count = ln.quantity, len(used)
    for loc in [*used, *(loc for loc in ranked if loc not in used)]:
        if loc in excluded or need == 0:
            continue
        if loc not in used and count >= limit:
            break
        take = min(need, max(left[(ln.sku, loc)], 0))
        if take:
            parts.append((loc, take))
            need -= take
            count += loc not in used
    return parts if need == 0 else None


def _pickup_store(order: SourcingOrder, rules: Rules) -> str | None:
    """The pickup store in the buyer's city, else in the buyer's province."""
    province = province_key(order.province)
    stores = sorted((loc, e) for loc, e in rules.locations.items() if e.pickup)
    for loc, e in stores:
        if province_key(e.province) == province and e.city and e.city == order.city:
            return loc
    for loc, e in stores:
        if province_key(e.province) == province and province is not None:
            return loc
    return None
