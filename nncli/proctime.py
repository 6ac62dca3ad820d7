"""When this process started, on the ``time.perf_counter`` clock: so that a run's recorded
wall time counts the whole process (interpreter start-up and imports included), not only the
part after nncli got control."""

from __future__ import annotations

import os
import time


def started() -> float | None:
    """``time.perf_counter()`` at this process's start, or None where the system does not say
    (Linux's /proc gives it to a clock tick, 10 ms)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # fields after the command name (which may hold spaces and parentheses); starttime is
        # field 22 of the whole line, in clock ticks since boot
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    now = time.perf_counter()
    return now - age if 0 <= age < now + 1e9 else None
