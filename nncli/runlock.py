"""One writer per run, a status that stays true on a full disk, and dead runs told from live ones.

Each run directory holds ``run.lock``. The process that writes the run (``nncli train``, or a
``--resume``) holds an exclusive ``flock`` on it from before its first write until it exits; a
second writer is refused with the holder's pid and host. The kernel drops the lock the moment
its process dies (even by SIGKILL), so anyone can tell a live run from a dead one by trying
the lock for a moment.

The same file carries the run's status record: JSON padded to ``RECORD_BYTES``, written in
full when the lock is first taken and afterwards rewritten in place. Rewriting blocks a file
already owns needs no new ones, so the final status (say ``failed: disk_full``) is recorded
even when the disk is too full for ``summary.json`` to be replaced. The record also holds the
writer's host, pid and a heartbeat (its time at every epoch), for when locks cannot be used.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nncli.errors import RunError

LOCK_FILE = "run.lock"
RECORD_BYTES = 4096  # one block on every common file system
_WAIT = 0.5  # seconds a writer retries: a reader's probe holds the lock for microseconds
_STALE = 600.0  # a heartbeat older than this (and than 3 epochs) means dead, when locks fail


def this_host() -> str:
    return socket.gethostname()


def _boot_id() -> str | None:
    """Changes at every reboot: a pid recorded before one means nothing after it."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_record(fd: int) -> dict:
    try:
        raw = os.pread(fd, RECORD_BYTES, 0)
        record = json.loads(raw.decode("utf-8").strip() or "{}")
    except (OSError, ValueError, RecursionError):
        return {}  # damaged: as if there were none
    return record if isinstance(record, dict) else {}


class RunLock:
    """The exclusive lock on one run directory and its status record; ``acquire`` to take it."""

    def __init__(self, run_dir: Path, fd: int, previous: dict, locked: bool):
        self.run_dir, self.fd, self.locked = run_dir, fd, locked
        self.previous = dict(previous)  # what the last writer left: its status, heartbeat, ...
        self.record = dict(previous)
        self._mutex = threading.Lock()  # the background writer beats while the main thread sets statuses
        self._last_beat: float | None = None

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the run's lock, or raise RunError naming the process that holds it.

        The record is written in full right away: on a disk too full for it, this is where
        the run stops (before anything of it changed).
        """
        path = Path(run_dir) / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RunError(f"cannot open {path}: {e.strerror or e}") from e
        try:
            locked = _lock(fd, path)
            lock = cls(Path(run_dir), fd, _read_record(fd), locked)
            if not locked and lock._holder_alive():
                raise RunError(_busy(run_dir, lock.previous))
            lock.record.update(pid=os.getpid(), host=this_host(), boot=_boot_id(), since=time.time())
            lock._write(durable=True, full=True)
        except BaseException:
            os.close(fd)
            raise
        return lock

    def set_status(self, status: str, reason: str | None = None, exit_code: int | None = None,
                   **fields) -> None:
        """Record the run's status in place; never needs new disk blocks."""
        with self._mutex:
            self.record.update(status=status, reason=_short(reason), exit=exit_code, **fields)
            self._write(durable=True)

    def beat(self, epoch: int) -> None:
        """The heartbeat: the time of this epoch's end (not synced: it only says 'alive', and
        a failure to write it must not stop the training)."""
        with self._mutex:
            now = time.time()
            if self._last_beat is not None:  # this process's own previous beat
                self.record["interval"] = now - self._last_beat
            self._last_beat = now
            self.record.update(heartbeat=now, epoch=epoch)
            try:
                self._write(durable=False)
            except RunError:
                pass

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def discard(self) -> None:
        """Release and delete the lock file (a run directory abandoned before it held anything)."""
        self.release()
        try:
            os.unlink(self.run_dir / LOCK_FILE)
        except OSError:
            pass

    def _write(self, durable: bool, full: bool = False) -> None:
        data = json.dumps(self.record).encode()
        if len(data) >= RECORD_BYTES:  # only a very long reason can do this
            self.record["reason"] = _short(self.record.get("reason"), 200)
            data = json.dumps(self.record).encode()
        data = data.ljust(RECORD_BYTES - 1) + b"\n"
        try:
            os.pwrite(self.fd, data, 0)
            if full:
                os.ftruncate(self.fd, RECORD_BYTES)  # a longer (foreign) file shrinks; needs no blocks
            if durable:
                os.fsync(self.fd)
        except OSError as e:
            raise RunError(f"cannot write {self.run_dir / LOCK_FILE}: {e.strerror or e}") from e

    def _holder_alive(self) -> bool:
        return process_alive(self.previous) is not False and self.previous.get("status") == "running"


def _lock(fd: int, path: Path) -> bool:
    """flock the file, retrying briefly; False when this file system has no locks."""
    deadline = time.monotonic() + _WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RunError(_busy(path.parent, _read_record(fd))) from None
            time.sleep(0.02)
        except OSError as e:
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return False  # fall back to pid and heartbeat
            raise RunError(f"cannot lock {path}: {e.strerror or e}") from e


def _busy(run_dir, record: dict) -> str:
    pid, host = record.get("pid", "?"), record.get("host", "?")
    since = record.get("since")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" \
        if isinstance(since, (int, float)) else ""
    return (f"{run_dir}: the run is being written by process {pid} on host {host}{when}; "
            "wait for it to end, or stop that process first")


def _short(text, limit: int = 1000):
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------- looking from outside
@dataclass
class LockState:
    """What a reader can tell about a run's writer: ``held`` (True: a live process holds the
    lock; False: nobody does; None: this file system cannot say) and the status record."""

    held: bool | None
    record: dict


def probe(run_dir) -> LockState | None:
    """The lock state of a run directory, or None when it has no run.lock (older runs)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError:
        return LockState(None, {})
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        except OSError:
            held = None
        return LockState(held, _read_record(fd))
    finally:
        os.close(fd)  # also drops the shared lock, if taken


def process_alive(record: dict) -> bool | None:
    """Whether the process a record names still runs: by pid on this host (same boot), by the
    heartbeat's age elsewhere; None when the record cannot say."""
    pid, host = record.get("pid"), record.get("host")
    if not isinstance(pid, int) or not isinstance(host, str):
        return None
    if host == this_host():
        boot = record.get("boot")
        if boot is not None and boot != _boot_id():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # someone else's process
        return True
    beat = record.get("heartbeat", record.get("since"))
    if not isinstance(beat, (int, float)):
        return None
    interval = record.get("interval")
    stale = max(_STALE, 3 * interval) if isinstance(interval, (int, float)) else _STALE
    return time.time() - beat < stale
