"""``oms console``: serve the web console (and the API it calls) and print its address."""

from __future__ import annotations

from rich.console import Console

from oms_events import console as web_console
from oms_events.cli.channel import Host, Port
from oms_events.cli.errors import one_line_errors
from oms_events.settings import get_settings

out = Console(stderr=True)


@one_line_errors
def console(host: Host = None, port: Port = None) -> None:
    """Serve the operator console (zh-CN / en) at /console/ with the operator API it
    calls (/api/v1) and the channel intake: the same server as `oms channel serve`.
    Prints the console's address; sign in with a user made by `oms user add`.

    Example: oms console --port 8081   # then open http://127.0.0.1:8081/console/
    """
    from oms_events.intake.http import serve

    settings = get_settings()
    host = host or settings.http.host
    port = port or settings.http.port
    # Printed before the server starts: uvicorn logs at warning only, so this line is
    # what tells the operator where to go.
    out.print(f"console: {web_console.url(host, port)}  (Ctrl-C stops)")
    serve(settings, host, port)
