"""Starting children: their environment (the machine's own kernels), fits in fresh processes,
whole commands timed hyperfine-like, and what the machine was doing meanwhile."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from suite.contenders import PINS

COMPARE = Path(__file__).resolve().parent.parent / "compare.py"
_START = time.perf_counter()


def progress(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the start."""
    print(f"[{time.perf_counter() - _START:6.1f} s] {message}", file=sys.stderr, flush=True)


def child_env(pinned: bool, extra: dict | None = None) -> dict:
    """A copy of this process's environment for a child: without the OpenBLAS pins unless
    `pinned`. Only the child's copy changes; this process's own environment is never touched."""
    env = {k: v for k, v in os.environ.items() if pinned or k not in PINS}
    env.update(extra or {})
    return env


def run_child(spec: dict, env: dict) -> dict | None:
    """`compare.py --child SPEC` in a fresh process; its JSON result, or None (reason on stderr)."""
    cmd = [sys.executable, str(COMPARE), "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        what = spec.get("contender") or spec["mode"]
        print(f"  {what} on {spec.get('workload')} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
              file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_commands(cmds: dict[str, list[str]], env: dict, runs: int, warmup: int = 1,
                  check=None) -> dict[str, dict]:
    """Wall time of whole commands, hyperfine-like: `warmup` untimed rounds, then `runs` rounds
    in which the commands take turns (the first one rotating). Per command: median, min, max,
    the times and stdouts of the timed runs, and `error` (the first failure's last line) if one
    failed. `check(label, stdout)` may return an error text for output that looks wrong."""
    out = {label: {"times": [], "outputs": [], "error": None} for label in cmds}
    labels = list(cmds)
    for r in range(warmup + runs):
        progress(f"  {'warm-up' if r < warmup else 'timed'} round {r + 1}/{warmup + runs} of {', '.join(map(str, labels))}")
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            res = out[label]
            if res["error"]:
                continue
            t0 = time.perf_counter()
            proc = subprocess.run(cmds[label], capture_output=True, text=True, env=env, check=False,
                                  stdin=subprocess.DEVNULL)
            seconds = time.perf_counter() - t0
            err = None
            if proc.returncode != 0:
                err = f"exit {proc.returncode}: " + (proc.stderr.strip().splitlines() or ["no output"])[-1]
            elif check is not None:
                err = check(label, proc.stdout)
            if err:
                res["error"] = err
                print(f"  {label}: {err}", file=sys.stderr)
                continue
            if r >= warmup:
                res["times"].append(seconds)
                res["outputs"].append(proc.stdout)
    for res in out.values():
        t = res["times"]
        res.update(median=statistics.median(t) if t and not res["error"] else None,
                   min=min(t) if t else None, max=max(t) if t else None)
    return out


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    t = os.times()
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return busy, t.user + t.system + t.children_user + t.children_system


class Background:
    """CPU used by processes other than this one and its children, in cores, over a block."""

    def __enter__(self):
        self.busy, self.own = cpu_seconds()
        self.t0, self.load_before = time.perf_counter(), load_average()
        return self

    def __exit__(self, *exc):
        busy, own = cpu_seconds()
        self.cores = max(0.0, (busy - self.busy) - (own - self.own)) / (time.perf_counter() - self.t0)
        self.load_after = load_average()
