"""The operator API's routes under ``/api/v1``, mounted on the intake server's app."""

from __future__ import annotations

from fastapi import APIRouter

from oms_events.api import actions, dashboard, exceptions, orders, session, stock

PREFIX = "/api/v1"


def operator_api() -> APIRouter:
    """Every route of the operator API."""
    router = APIRouter(prefix=PREFIX)
    for module in (session, orders, actions, stock, exceptions, dashboard):
        router.include_router(module.router)
    return router
