"""A full disk at any moment of a run: the status nncli runs shows is true (``failed``, with
the reason, and resumable), no temporary file is left, and once space is freed a resume ends
bit-identical to a run that never failed.

First with ENOSPC simulated at every write in turn (file writes are the atomic layer's
``os.write`` and ``os.fsync``; the lock's record is rewritten in place and needs no new blocks,
as on a real disk), then on a real, tiny tmpfs filled to a few kilobytes of free space.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import SMALL as SMALL_RUN
from helpers import load_arrays, run_dirs, write

from nncli import atomic, metricscsv, runner
from nncli.config import load_config

SMALL = SMALL_RUN.replace("epochs: 6", "epochs: 4") + """\
plots: false  # a picture is never worth failing a run (test_plots.py): here every write must count
"""


class FullDisk:
    """Stands in for ``os`` in nncli.atomic: the first ``ok`` calls of ``what`` succeed, then
    the disk is full and every later one fails with ENOSPC (until the test frees it)."""

    def __init__(self, ok: int, what: str):
        self.ok, self.what, self.calls, self.hit = ok, what, 0, False
        self.lock = threading.Lock()

    def __getattr__(self, name):
        real = getattr(os, name)
        if name != self.what:
            return real

        def call(*args):
            with self.lock:
                self.calls += 1
                if self.calls > self.ok:
                    self.hit = True
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args)
        return call


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    return runner.train(load_config(write(root / "cfg.yaml", SMALL)), runs_dir=root / "runs")[0]


def same_run(run: Path, ref: Path) -> None:
    a, b = load_arrays(run / "model.npz"), load_arrays(ref / "model.npz")
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in metricscsv.read_metrics_csv(run / "metrics.csv")]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in metricscsv.read_metrics_csv(ref / "metrics.csv")]


def check_failed_then_resume(root: Path, nncli, reference: Path) -> str:
    """After a run stopped by a full disk: its status is true, nothing half-written is left,
    and a resume completes it bit-identical. Returns what was found (for the caller's tally)."""
    dirs = run_dirs(root) if root.exists() else []
    if not dirs:
        return "no run directory"  # the disk filled before the run held anything: nothing to resume
    (run,) = dirs
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    (row,) = json.loads(nncli("runs", root, "--json").out)
    assert row["status"] == "failed" and row["reason"] == "disk_full", row
    r = nncli("train", "--resume", run, "--runs-dir", root, "--quiet")
    assert r.code == 0, r.err
    assert json.loads(nncli("runs", root, "--json").out)[0]["status"] == "finished"
    same_run(run, reference)
    return "resumed"


@pytest.mark.parametrize("what", ["write", "fsync"])
def test_enospc_at_every_write_in_turn(what, tmp_path, monkeypatch, reference, nncli):
    cfg = write(tmp_path / "cfg.yaml", SMALL)
    found = []
    for ok in range(100):
        root = tmp_path / f"runs{ok}"
        disk = FullDisk(ok, what)
        monkeypatch.setattr(atomic, "os", disk)
        r = nncli("train", cfg, "--runs-dir", root, "--quiet")
        monkeypatch.setattr(atomic, "os", os)  # space freed
        if not disk.hit:
            assert r.code == 0, r.err  # every write of a run succeeded: the failures are all covered
            break
        if r.code == 0:  # only a directory's fsync failed, which does not lose a file
            assert what == "fsync"
            same_run(run_dirs(root)[0], reference)
            continue
        assert r.code == 4, r.err
        assert "No space left on device" in r.err and "Traceback" not in r.err
        found.append(check_failed_then_resume(root, nncli, reference))
    else:
        pytest.fail("a run never got through its writes")
    # the first write is config.yaml: without it the directory is removed; every later one fails a run
    assert found[0] == "no run directory" and set(found[1:]) == {"resumed"} and len(found) >= 5


# ---------------------------------------------------------------- a real full disk
@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs (root can mount one; elsewhere the simulated test above covers each write)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, free: int) -> Path:
    """Fill the file system, then give back ``free`` bytes."""
    filler = mount / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - free))
    return filler


@pytest.mark.slow
def test_a_real_full_disk_at_every_size_of_free_space(tiny_tmpfs, reference, nncli):
    cfg = write(tiny_tmpfs.parent / "cfg.yaml", SMALL)
    outcomes = {}
    for kb in (0, 4, 8, 12, 16, 24, 40, 60, 80, 100, 120, 140, 160, 200, 400):
        root = tiny_tmpfs / f"runs{kb}"
        root.mkdir()
        filler = fill(tiny_tmpfs, kb * 1024)
        r = nncli("train", cfg, "--runs-dir", root, "--quiet")
        filler.unlink()  # space freed
        if r.code == 0:
            outcomes[kb] = "finished"
            same_run(run_dirs(root)[0], reference)
            continue
        assert r.code == 4 and "No space left on device" in r.err and "Traceback" not in r.err, r.err
        outcomes[kb] = check_failed_then_resume(root, nncli, reference)
        shutil.rmtree(root)
    assert outcomes[0] == "no run directory"
    assert "resumed" in outcomes.values() and outcomes[400] == "finished", outcomes
