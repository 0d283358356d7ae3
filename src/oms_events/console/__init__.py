"""The operator console: a static single-page app (HTML, CSS, vanilla JS, zh-CN and en)
over the operator API (``/api/v1``), served by the same server at ``/console/``.

Static files and no build step: nothing to compile on a fresh machine, no node in CI,
no CDN (operators' networks often reach nothing outside), and the wheel carries the
files as package data. Charts are inline SVG drawn by ``static/charts.js``. The texts
of both languages are in ``static/i18n.json`` (a unit test keeps their keys equal).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PATH = "/console"


def mount(app: FastAPI) -> None:
    """Serve the console at ``/console/`` on ``app`` (kept out of the OpenAPI document:
    it is pages, not API)."""

    @app.get(PATH, include_in_schema=False)
    def console_root() -> RedirectResponse:
        # The pages link their scripts relatively: they must be read from /console/.
        return RedirectResponse(f"{PATH}/")

    app.mount(f"{PATH}/", StaticFiles(directory=STATIC, html=True), name="console")


def url(host: str, port: int) -> str:
    """The console's address on a server listening on ``host``:``port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}{PATH}/"
