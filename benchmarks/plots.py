"""How long ``nncli plot`` takes on a sweep of 20 runs, from a cold start of the command.

    python benchmarks/plots.py [--repeats 3] [--dataset digits|moons|diabetes] [--runs 20]

Trains the runs once into a temporary directory (a grid of learning rates and hidden sizes,
``plots: false`` so that no picture exists beforehand), then times ``python -m nncli plot
RUNS_DIR --out TMP`` as a fresh child process, the way a person runs it: interpreter start,
imports (matplotlib included), reading the runs, recreating their data, drawing and writing
every picture. Prints wall and CPU seconds per repeat, the pictures written and the machine.
The bar: under 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = {"digits": "digits.yaml", "moons": "moons.yaml", "diabetes": "diabetes.yaml"}
BAR_SECONDS = 5.0


def nncli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nncli", *args], env=env, check=True,
                          capture_output=True, text=True, **kwargs)


def make_runs(root: Path, dataset: str, n_runs: int) -> None:
    lrs = [0.1, 0.03, 0.01, 0.003, 0.001]
    hiddens = ["[16]", "[32]", "[64]", "[32, 32]"]
    grid = [(lr, h) for h in hiddens for lr in lrs][:n_runs]
    lr_values = sorted({lr for lr, _ in grid}, reverse=True)
    hidden_values = list(dict.fromkeys(h for _, h in grid))
    # the sweep's own directory is ``root``: a directory of runs, one per trial
    nncli("sweep", str(REPO / "configs" / CONFIGS[dataset]), "--runs-dir", str(root.parent), "--name", root.name,
          "--quiet",
          "--set", "training.epochs=30", "--set", "plots=false", "--set", "training.early_stopping.enabled=false",
          "--grid", f"optimizer.lr=[{', '.join(map(str, lr_values))}]",
          "--grid", f"model.hidden=[{', '.join(hidden_values)}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", choices=sorted(CONFIGS), default="digits")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    # whole `nncli` processes are timed: nncli's bytecode first, as `pip install` leaves it (this
    # machine may set PYTHONDONTWRITEBYTECODE=1, and every process would compile nncli from source)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "nncli")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="nncli-plot-bench-"))
    try:
        runs_dir = tmp / "runs"
        t0 = time.perf_counter()
        make_runs(runs_dir, args.dataset, args.runs)
        n = len([p for p in runs_dir.iterdir() if p.is_dir()])
        print(f"trained {n} {args.dataset} runs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        walls, cpus, files = [], [], 0
        for i in range(args.repeats):
            out = tmp / f"out{i}"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            result = nncli("plot", str(runs_dir), "--out", str(out))
            walls.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            files = len(result.stdout.split())
        print(f"nncli plot, {n} {args.dataset} runs, {files} pictures")
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.2f}")
        for i, (w, c) in enumerate(zip(walls, cpus), 1):
            print(f"  repeat {i}: wall {w:.2f} s, cpu {c:.2f} s")
        best = min(walls)
        print(f"wall: best {best:.2f} s, median {statistics.median(walls):.2f} s "
              f"(bar {BAR_SECONDS:.0f} s: {'met' if best < BAR_SECONDS else 'MISSED'})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
