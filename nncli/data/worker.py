"""Reading and encoding data off the main thread, so that Ctrl-C is honoured at once.

Python runs signal handlers on the main thread only, between bytecodes: while a parser is
inside C code for seconds (a 40,000-column CSV, a pipe that nobody writes to) a handler would
wait. So the work runs in a worker thread and the main thread waits in slices of 50 ms,
asking ``stop()`` each time; when it names a signal, the worker is told to stop at its next
check and ``Interrupted`` is raised at once.
"""

from __future__ import annotations

import threading
from typing import Callable

from nncli.errors import Interrupted

SLICE = 0.05


def run_interruptibly(fn: Callable[[threading.Event], object], stop: Callable[[], str | None] | None = None):
    """``fn(cancel)`` in a worker thread; its result, or its exception, or Interrupted."""
    cancel = threading.Event()
    out: dict = {}

    def work():
        try:
            out["value"] = fn(cancel)
        except BaseException as e:  # handed to the waiting thread
            out["error"] = e

    t = threading.Thread(target=work, name="nncli-data", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(SLICE)
            signame = stop() if stop is not None else None
            if signame:
                raise Interrupted(signame, "while loading the data; nothing was written")
    except BaseException:
        cancel.set()  # the worker gives up at its next check; as a daemon it never holds up exit
        raise
    if "error" in out:
        err = out["error"]
        if type(err).__name__ == "Cancelled":
            raise Interrupted("sigint", "while loading the data")
        raise err
    return out["value"]
