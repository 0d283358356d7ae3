"""Which projections exist: the ones the ``consumers`` package declares, by name."""

from __future__ import annotations

from collections.abc import Sequence

import consumers

from oms_events.projection.spec import Projection


class UnknownProjection(LookupError):
    """A projection name that no consumers/ module declares."""


def load_projections() -> dict[str, Projection]:
    """Every projection of the ``consumers`` package, by name, in registry order."""
    return {p.name: p for p in consumers.PROJECTIONS}


def select(names: Sequence[str]) -> list[Projection]:
    """The named projections (all when ``names`` is empty).

    Unknown names raise :class:`UnknownProjection`.
    """
    known = load_projections()
    if not names:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownProjection(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return [known[n] for n in names]


def projected() -> list[Projection]:
    """The projections ``oms project`` runs when given no names: all but those run by
    their own command (``runs_alone``: the notifications, run by ``oms notify run``)."""
    return [p for p in load_projections().values() if not p.runs_alone]
