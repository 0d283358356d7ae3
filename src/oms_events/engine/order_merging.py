"""Merging (合单) and splitting (拆单) orders, a part of the order service
(``oms order merge``, ``oms order split``).

Merge: the orders stay whole (each keyed by its channel's id, refunds and returns per
order); their *parcels* merge. Orders live on different partitions, so the group is
hosted by its lead order (the first named), which talks to the members by commands::

    MergeOrders -> lead: OperatorActed("merge"), MergeRequested, its own facts
        (MergeReported joined) and JoinMerge to each member
    JoinMerge -> member: OperatorActed("merge"), MergeJoined and ReportMerge(joined,
        its facts) to the lead; not mergeable (allocated, unpaid, COD, in another
        group) -> ReportMerge(refused, why)
    ReportMerge -> lead: MergeReported; every member answered -> the group's rules
        (consolidation.check_merge: one customer, one address, one currency and
        channel, the window OMS_ENGINE_MERGE_WINDOW_S) -> MergeFormed, or MergeLeft on
        the lead and JoinMerge(leave) to every member (each ships alone)
    a member reserved, paid and reviewed -> OrderAllocated as any order (its own stock)
        but no parcel of its own: ReportMerge(ready, its lines) to the lead
    every member ready -> the lead sends ONE allocation and CreateShipment per location
        (its id ``uuid5(group, location)``, lines naming their orders): MergeDispatched
    a member cancelled before that -> it leaves (ReportMerge left; its stock released
        by its own cancel); the group goes on while two orders are left, else dissolves
    a member cancelled after -> CancelShipment(order_id) takes its lines out of the
        parcel before it leaves (ShipmentOrderWithdrawn); its stock is released by its
        cancel, the parcel commits only the others' lines when it ships

Split (拆单): SplitOrder by availability cuts short lines in two with
``backorder.split_by_availability`` (what the stock view sees now ships, the rest is
backordered), recorded as OrderSplit; the ship-now part is reserved and allocated as
any order; the backordered lines wait, and when stock of their skus is received the
order service's timer asks for them (``OrderSaga.retry``), then BackorderAllocated
sends them in a parcel of their own (``backorder_answers``). By location: the order's
lines already ship one parcel per location; the split records it (refused when every
line is at one location or a line is not reserved yet).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from oms_events.domain.backorder import SplitRefused, split_by_availability, split_by_location
from oms_events.domain.consolidation import (
    MERGE_NAMESPACE,
    MergeCandidate,
    MergePolicy,
    MergeRefused,
    check_merge,
    customer_identities,
    normalized_address,
)
from oms_events.domain.errors import DomainError
from oms_events.domain.line import OrderLine
from oms_events.domain.order import Order, OrderStatus
from oms_events.engine import allocation
from oms_events.engine.commands import (
    Command,
    JoinMerge,
    MergedLine,
    MergeOrders,
    ReportMerge,
    ReservationAnswer,
    ShipmentLineDetails,
    SplitOrder,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.fulfilment.rules import Rules
from oms_events.settings import Settings

if TYPE_CHECKING:
    from oms_events.engine.order_saga import OrderSaga

MERGE_COMMANDS = (MergeOrders, SplitOrder)


def merge_refused(command: Command, error: DomainError) -> bool:
    """True for an operator's merge or split a rule refused: answered, not dead-lettered."""
    return isinstance(command, MERGE_COMMANDS)


def group_id_of(order_ids: Sequence[UUID]) -> UUID:
    """The merge group of ``order_ids``: the same orders make the same group (as
    ``consolidation.plan_merge`` names it), so an operator's retry finds it."""
    return uuid5(MERGE_NAMESPACE, ",".join(str(i) for i in sorted(set(order_ids))))


def policy_of(settings: Settings) -> MergePolicy:
    """The merge policy the settings give (OMS_ENGINE_MERGE_*)."""
    return MergePolicy(
        window=timedelta(seconds=settings.engine.merge_window_s),
        cross_channel=settings.engine.merge_cross_channel,
    )


def facts_of(order: Order) -> dict[str, Any]:
    """What the group's rules read of ``order`` (MergeReported's facts)."""
    return {
        "order_no": order.order_no,
        "channel": order.channel,
        "identities": sorted(customer_identities(order.customer)),
        "address": normalized_address(order.address),
        "currency": order.currency,
        "status": order.status.value,
        "paid": order.is_paid and not order.is_cod,
        "placed_at": order.placed_at,
    }


def _candidate(facts: dict[str, Any]) -> MergeCandidate:
    # The lines do not matter to the rules; the group's parcels come from the members'
    # allocations (ready reports), which may differ from what they were at the merge.
    return MergeCandidate(
        order_id=UUID(facts["order_id"]),
        order_no=facts["order_no"],
        channel=facts["channel"],
        identities=frozenset(facts["identities"]),
        address=facts["address"],
        status=OrderStatus(facts["status"]),
        paid=facts["paid"],
        picked=False,
        placed_at=facts["placed_at"],
        currency=facts["currency"],
        lines=(),
    )


def ready(order: Order, out: Outbox, cause: str, rules: Rules | None) -> None:
    """A merged order was allocated: its lines go to the lead, which sends the group's
    parcels once every member is (the lead itself records them)."""
    lines: list[dict[str, Any]] = [
        {
            "line_no": n,
            "sku": order.lines[n].sku,
            "quantity": order.lines[n].quantity,
            "location": order.reservations[n][1],
            "reservation_id": order.reservations[n][0],
        }
        for n in sorted(order.allocations)
        if n in order.reservations
    ]
    if order.leads_merge:
        order.record_merge_report(order.id, "ready", lines=lines)
        advance_group(order, out, cause, rules)
        return
    out.command(
        ReportMerge(
            command_id=f"{cause}/merge-ready",
            order_id=UUID(order.merge_lead or ""),
            group_id=UUID(order.merge_group or ""),
            member_id=order.id,
            kind="ready",
            order_no=order.order_no,
            lines=tuple(
                MergedLine(
                    line_no=d["line_no"],
                    sku=d["sku"],
                    quantity=d["quantity"],
                    location=d["location"],
                    reservation_id=d["reservation_id"],
                )
                for d in lines
            ),
        )
    )


def advance_group(lead: Order, out: Outbox, cause: str, rules: Rules | None) -> None:
    """On the lead, after a member's report: form the group once every member joined
    and the rules hold (else dissolve it), send its parcels once every member that is
    left is allocated."""
    answers = lead.merge_answers()
    if not lead.merge_formed:
        refused = [a for a in answers.values() if a["kind"] == "refused"]
        if refused:
            dissolve(lead, out, cause, rules, f"{refused[0]['reason']}")
            return
        if not all(m in answers for m in lead.merge_members):
            return  # members still to answer
        try:
            check_merge(
                [_candidate(a) for a in answers.values() if a["kind"] == "joined"],
                policy_of(out.settings),
            )
        except MergeRefused as error:
            dissolve(lead, out, cause, rules, error.message("en"))
            return
        lead.form_merge()
    if lead.merge_dispatched:
        return
    remaining = lead.merge_members_left()
    if len(remaining) < 2 or str(lead.id) not in remaining:
        dissolve(lead, out, cause, rules, "the other orders of the group left it")
        return
    ready_lines = {r["order_id"]: r["lines"] for r in lead.merge_ready}
    if not all(m in ready_lines for m in remaining):
        return
    numbers = {UUID(a["order_id"]): a["order_no"] for a in answers.values() if "order_no" in a}
    parcels: dict[str, list[ShipmentLineDetails]] = defaultdict(list)
    for member in remaining:
        for d in ready_lines[member]:
            parcels[d["location"]].append(
                ShipmentLineDetails(
                    line_no=d["line_no"],
                    sku=d["sku"],
                    quantity=d["quantity"],
                    reservation_id=UUID(str(d["reservation_id"])),
                    order_id=UUID(member),
                )
            )
    sent = allocation.dispatch_group(lead, out, cause, rules, parcels, numbers)
    lead.dispatch_merge(sent)


def dissolve(lead: Order, out: Outbox, cause: str, rules: Rules | None, reason: str) -> None:
    """The group is off: every member is told to leave (each ships alone) and so does
    the lead."""
    group = UUID(lead.merge_group or "")
    for member in lead.merge_members:
        if member != str(lead.id):
            out.command(
                JoinMerge(
                    command_id=f"{cause}/merge-leave/{member}",
                    order_id=UUID(member),
                    group_id=group,
                    lead_id=lead.id,
                    actor="oms",
                    leave=True,
                    reason=reason,
                )
            )
    if lead.leave_merge(reason):
        carry_on_alone(lead, out, cause, rules)


def carry_on_alone(order: Order, out: Outbox, cause: str, rules: Rules | None) -> None:
    """An order out of its group: allocated meanwhile, it is sent on its own now;
    else it goes on as any order (the saga allocates it when ready)."""
    if order.status is OrderStatus.ALLOCATED and not order.shipments:
        allocation.dispatch(order, out, cause, rules)


def parcels_of(order: Order) -> list[tuple[UUID, UUID | None]]:
    """The order's parcels, (shipment id, the order when the parcel is a merge group's:
    only its lines are to be taken out), for a cancellation."""
    later = {n for _, line_nos in order.backorder_parcels for n in line_nos}
    locations = {loc for n, loc in order.allocations.items() if n not in later}
    found: list[tuple[UUID, UUID | None]]
    if order.merge_group is not None:
        group = UUID(order.merge_group)
        found = [(uuid5(group, loc), order.id) for loc in sorted(locations)]
    else:
        from oms_events.domain.shipment import Shipment

        found = [(Shipment.create_id(order.id, loc), None) for loc in sorted(locations)]
    found += [(UUID(sid), None) for sid, _ in order.backorder_parcels]
    return found


def backorder_parcel_id(order_id: UUID, location: str, reservation_ids: Sequence[UUID]) -> UUID:
    """A backorder's parcel: named by its order, location and first reservation, so a
    redelivered answer finds the parcel it made."""
    return uuid5(order_id, f"backorder:{location}:{min(str(r) for r in reservation_ids)}")


class OrderMerging:
    """Handlers of merge and split commands (mixed into the order service)."""

    saga: OrderSaga
    _order: Callable[[Partition, UUID], Order]
    _save: Callable[[Partition, Order, Outbox, str], None]

    def merge_handlers(self) -> dict[type[Command], Callable[..., None]]:
        """Command class -> handler, for the service's table."""
        return {
            MergeOrders: self.merge,
            JoinMerge: self.join_merge,
            ReportMerge: self.merge_reported,
            SplitOrder: self.split,
        }

    def merge(self, command: MergeOrders, partition: Partition, out: Outbox) -> None:
        """Lead a merge: note who asked, ask every other order to join."""
        lead = self._order(partition, command.order_id)
        ids = list(dict.fromkeys(command.order_ids))
        if len(ids) < 2 or command.order_id not in ids:
            raise MergeRefused(detail="give two or more different orders")
        if lead.merge_group == str(command.group_id):
            return  # asked before: an operator's retry
        lead.check_mergeable()
        lead.record_operator_action(
            "merge", command.actor, f"group {command.group_id}: {len(ids)} orders"
        )
        lead.request_merge(command.group_id, ids, command.actor)
        lead.record_merge_report(lead.id, "joined", facts=facts_of(lead))
        for member in ids:
            if member != lead.id:
                out.command(
                    JoinMerge(
                        command_id=f"{command.command_id}/join/{member}",
                        order_id=member,
                        group_id=command.group_id,
                        lead_id=lead.id,
                        actor=command.actor,
                    )
                )
        self._save(partition, lead, out, command.command_id)

    def join_merge(self, command: JoinMerge, partition: Partition, out: Outbox) -> None:
        """A member joins (or, told so, leaves) the lead's group and answers it."""
        order = self._order(partition, command.order_id)
        cause = command.command_id
        if command.leave:
            if order.merge_group == str(command.group_id) and order.leave_merge(command.reason):
                carry_on_alone(order, out, cause, self.saga.rules)
            self._save(partition, order, out, cause)
            return
        if order.merge_group == str(command.group_id):
            return  # joined before
        report: dict[str, Any] = {
            "command_id": f"{cause}/report",
            "order_id": command.lead_id,
            "group_id": command.group_id,
            "member_id": order.id,
            "order_no": order.order_no,
        }
        try:
            order.check_mergeable()
        except DomainError as error:
            out.command(ReportMerge(kind="refused", reason=error.message("en"), **report))
            return
        order.record_operator_action("merge", command.actor, f"group {command.group_id}")
        order.join_merge(command.group_id, command.lead_id, command.actor)
        facts = facts_of(order)
        out.command(
            ReportMerge(
                kind="joined",
                channel=facts["channel"],
                identities=tuple(facts["identities"]),
                address=facts["address"],
                currency=facts["currency"],
                status=facts["status"],
                paid=facts["paid"],
                placed_at=facts["placed_at"],
                **report,
            )
        )
        self._save(partition, order, out, cause)

    def merge_reported(self, command: ReportMerge, partition: Partition, out: Outbox) -> None:
        """On the lead: a member's answer; the group forms, dissolves or ships."""
        lead = self._order(partition, command.order_id)
        cause = command.command_id
        if lead.merge_group != str(command.group_id) or not lead.leads_merge:
            if command.kind in ("joined", "ready"):
                # The group is gone (refused, dissolved): the member ships alone.
                out.command(
                    JoinMerge(
                        command_id=f"{cause}/leave",
                        order_id=command.member_id,
                        group_id=command.group_id,
                        lead_id=lead.id,
                        actor="oms",
                        leave=True,
                        reason="the merge group was dissolved",
                    )
                )
            return
        facts: dict[str, Any] | None = None
        if command.kind == "joined":
            facts = {
                "order_no": command.order_no,
                "channel": command.channel,
                "identities": list(command.identities),
                "address": command.address,
                "currency": command.currency,
                "status": command.status,
                "paid": command.paid,
                "placed_at": command.placed_at,
            }
        lines = [
            {
                "line_no": ln.line_no,
                "sku": ln.sku,
                "quantity": ln.quantity,
                "location": ln.location,
                "reservation_id": ln.reservation_id,
            }
            for ln in command.lines
        ]
        if lead.record_merge_report(command.member_id, command.kind, command.reason, facts, lines):
            advance_group(lead, out, cause, self.saga.rules)
        self._save(partition, lead, out, cause)

    def leave_on_cancel(self, order: Order, out: Outbox, cause: str) -> None:
        """A merged order was cancelled: the lead dissolves its group, a member leaves it
        (the lead told); its stock was released by the cancellation itself."""
        if order.merge_group is None or order.status is not OrderStatus.CANCELLED:
            return
        if order.leads_merge:
            if order.merge_dispatched:
                return  # the parcel is made: the cancel took the lead's lines out of it
            dissolve(order, out, cause, self.saga.rules, f"order {order.order_no} cancelled")
            return
        out.command(
            ReportMerge(
                command_id=f"{cause}/merge-left",
                order_id=UUID(order.merge_lead or ""),
                group_id=UUID(order.merge_group),
                member_id=order.id,
                kind="left",
                reason="cancelled",
                order_no=order.order_no,
            )
        )
        order.leave_merge("cancelled")

    # --- splitting ---------------------------------------------------------------

    def split(self, command: SplitOrder, partition: Partition, out: Outbox) -> None:
        """Split the order by availability (backordering what is short) or record its
        split by location (one parcel per location, as allocation makes)."""
        order = self._order(partition, command.order_id)
        cause = command.command_id
        order.check_changeable()
        lines = list(order.lines.values())
        if command.by == "location":
            where = {n: loc for n, (_, loc) in order.reservations.items()}
            parts = split_by_location(lines, where)
            if len(parts) < 2:
                where_from = next(iter(parts))
                raise SplitRefused(detail=f"every line ships from {where_from} already")
            order.record_operator_action(
                "split", command.actor, command.reason or f"by location: {', '.join(parts)}"
            )
            order.split("location", [], [], [])
            self._save(partition, order, out, cause)
            return
        stock = self.saga.stock
        available: dict[str, int] = defaultdict(int)
        for sku in {line.sku for line in lines}:
            available[sku] = sum(max(0, stock.available(sku, loc)) for loc in stock.holders(sku))
        for n in order.reservations:
            available[order.lines[n].sku] += order.lines[n].quantity  # held for it already
        plan = split_by_availability(lines, available, reserved=set(order.reservations))
        cut = plan.cut_lines
        cuts = [(p.line_no, p.quantity, p.discount) for p in plan.ship_now if p.line_no in cut]
        added: list[OrderLine] = []
        backordered: list[int] = []
        next_no = order.next_line_no
        for p in plan.backorder:
            if p.line_no in cut:
                old = order.lines[p.line_no]
                added.append(
                    OrderLine(next_no, p.sku, p.quantity, p.unit_price, p.discount, old.promotions)
                )
                backordered.append(next_no)
                next_no += 1
            else:
                backordered.append(p.line_no)
        units = sum(p.quantity for p in plan.backorder)
        order.record_operator_action(
            "split",
            command.actor,
            command.reason or f"by availability: {units} unit(s) backordered",
        )

        def apply(o: Order) -> None:
            o.split("availability", cuts, added, backordered)

        if self.saga.edit(order, apply, out, cause):
            self.saga.advance(order, out, cause)
        self._save(partition, order, out, cause)

    def backorder_answers(
        self, order: Order, answers: tuple[ReservationAnswer, ...], out: Outbox, cause: str
    ) -> tuple[ReservationAnswer, ...]:
        """Take the inventory's answers for a waiting backorder's lines: those reserved
        go to the warehouse in a parcel per location (BackorderAllocated); those refused
        wait for the next receipt. Returns the other answers (for the saga)."""
        if not order.backorder_waiting:
            return answers
        mine = [a for a in answers if a.line_no in order.backordered]
        if not mine:
            return answers
        by_location: dict[str, list[ReservationAnswer]] = defaultdict(list)
        for a in mine:
            if a.outcome == "reserved":
                by_location[a.location].append(a)
            else:
                self.saga.stock.note(a.sku, a.location, a.available)
        stale: list[ReservationAnswer] = []
        for location, found in sorted(by_location.items()):
            ids = [a.reservation_id for a in found]
            shipment_id = backorder_parcel_id(order.id, location, ids)
            taken = order.allocate_backorder(
                shipment_id, location, [(a.line_no, a.reservation_id) for a in found]
            )
            kept = {d["line_no"] for d in taken}
            stale += [a for a in found if a.line_no not in kept]
            if kept:
                allocation.dispatch_backorder(
                    order, out, cause, self.saga.rules, shipment_id, location, kept
                )
        # Answers of an earlier id (none expected): the saga gives their units back.
        return tuple(a for a in answers if a not in mine) + tuple(stale)
