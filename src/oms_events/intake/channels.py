"""The channel formats we read, by channel name."""

from __future__ import annotations

from oms_events.intake.channel import Channel
from oms_events.intake.douyin import DouyinChannel
from oms_events.intake.jd import JdChannel
from oms_events.intake.pdd import PddChannel
from oms_events.intake.pos import PosChannel
from oms_events.intake.tmall import TmallChannel
from oms_events.intake.web import WebChannel

CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        WebChannel(),
        TmallChannel(),
        JdChannel(),
        PosChannel(),
        PddChannel(),
        DouyinChannel(),
    )
}


def channel(name: str) -> Channel:
    """The format of channel ``name``; ``KeyError`` names the known ones."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise KeyError(f"unknown channel {name!r}; known: {', '.join(CHANNELS)}") from None
