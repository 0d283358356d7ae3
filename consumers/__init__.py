"""Projection consumers: one small module per projection, naming its topics, group and
handlers. ``oms project`` runs them; ``oms_events.projection`` is the machinery."""

from __future__ import annotations

from consumers import (
    analytics,
    cod,
    exceptions,
    inventory,
    notifications,
    payments,
    returns,
    tracking,
    warehouse,
)

PROJECTIONS = (
    inventory.PROJECTION,
    tracking.PROJECTION,
    exceptions.PROJECTION,
    analytics.PROJECTION,
    payments.PROJECTION,
    returns.PROJECTION,
    warehouse.PROJECTION,
    cod.PROJECTION,
    notifications.PROJECTION,
)
