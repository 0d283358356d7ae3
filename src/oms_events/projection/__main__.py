"""``python -m oms_events.projection [NAME…]``: the same as ``oms project``."""

from __future__ import annotations

import typer

from oms_events.cli.project import project
from oms_events.logging import setup_logging
from oms_events.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    setup_logging(settings.log.format, settings.log.level)
    typer.run(project)
