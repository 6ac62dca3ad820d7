"""How much memory this machine can give, and sizes written for people.

Used to refuse, before allocating, what cannot fit: a config whose model or data would not fit
and a run file whose arrays declare more than there is.
"""

from __future__ import annotations

import os


def available_memory() -> int:
    """Bytes the kernel says a new allocation can get (MemAvailable), else the physical memory."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: refuse nothing on this ground


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB' (powers of 1024, as free(1) and top show memory)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
