"""Summarise a py-spy raw profile of a whole process: where its CPU goes, every thread.

py-spy samples every thread, including those waiting in ``select`` or on a condition
(kafka-python's network threads, mostly); those samples are counted as idle and left
out. A thread waiting for the GIL still shows the line it waits at, so record with
``--gil`` (only the thread holding the GIL is sampled) when threads contend.

    py-spy record --gil -r 100 -d 25 -f raw -o order.txt -p "$(pgrep -f 'run --only order')"
    python bench/profile_summary.py order.txt --top 40
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaf frames of a thread that is waiting, not working.
IDLE = ("EpollSelector.select", "Condition.wait", "Event.wait", "sleep")
_LINE = re.compile(r":\d+\)$")


def summarise(path: Path) -> tuple[int, int, Counter[str], Counter[str]]:
    """(busy samples, idle samples, self time by function, inclusive time by function)."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        if frames[-1].startswith(IDLE):
            idle += n
            continue
        busy += n
        leaf[frames[-1]] += n
        for frame in set(frames[1:]):
            inclusive[frame] += n
    return busy, idle, leaf, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    busy, idle, leaf, inclusive = summarise(args.profile)
    if not busy:
        raise SystemExit(f"{args.profile}: no busy samples (was the process running?)")
    print(f"busy samples {busy}, idle {idle} ({busy / (busy + idle):.0%} busy)")
    for title, counts in (("self", leaf), ("inclusive", inclusive)):
        print(f"--- {title}")
        for frame, n in counts.most_common(args.top):
            print(f"{n / busy:6.1%}  {frame[:110]}")


if __name__ == "__main__":
    main()
