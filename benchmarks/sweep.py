"""Sweeps: one `nncli sweep --jobs 2` against a shell loop of `nncli train`, and what random
search and successive halving buy over the default config.

    python benchmarks/sweep.py [--repeats N] [--jobs N] [--skip-speed] [--skip-quality]

Speed: 8 digits trials (optimizer.lr x model.hidden, 30 epochs each) as 8 `nncli train`
calls one after another, as a shell loop runs them, and as one `nncli sweep --jobs 2`; the two
take turns within each repeat. Every child runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
removed from its environment (the BLAS kernel they then use is reported). The bar: the sweep
at least 4x faster.

Quality: the default config (only data.dataset set) against a random search of 16 trials and
successive halving of 27, ranked by validation accuracy; halving must spend at most 40% of
the epochs that training all 27 fully would. The report (Markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LRS = ["0.03", "0.01", "0.003", "0.001"]
HIDDEN = ["[64]", "[128]"]
EPOCHS = 30
SPEED_BAR = 4.0
HALVING_BUDGET = 0.40
SPACE = ["optimizer.lr=loguniform(1e-4,3e-2)", "model.hidden=[64],[128],[256]", "training.batch_size=32,64,128"]


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def nncli(*args, check=True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "nncli", *map(str, args)], env=child_env(), cwd=REPO,
                         capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"nncli {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr}")
    return out


def kernel() -> str:
    code = ("import json, numpy, threadpoolctl; print(json.dumps([{k: i.get(k) for k in "
            "('internal_api', 'version', 'architecture', 'num_threads')} for i in threadpoolctl.threadpool_info()]))")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, check=True)
    return ", ".join(f"{i['internal_api']} {i['version']} {i['architecture']} ({i['num_threads']} threads)"
                     for i in json.loads(out.stdout))


def digits_config(tmp: Path) -> Path:
    path = tmp / "digits.yaml"
    path.write_text((REPO / "configs" / "digits.yaml").read_text())
    return path


def shell_loop(cfg: Path, runs: Path) -> float:
    t0 = time.perf_counter()
    for lr in LRS:
        for hidden in HIDDEN:
            nncli("train", cfg, "--set", f"optimizer.lr={lr}", "--set", f"model.hidden={hidden}",
                  "--set", f"training.epochs={EPOCHS}", "--runs-dir", runs, "--quiet")
    return time.perf_counter() - t0


def sweep(cfg: Path, runs: Path, jobs: int) -> float:
    t0 = time.perf_counter()
    nncli("sweep", cfg, f"optimizer.lr={','.join(LRS)}", f"model.hidden={','.join(HIDDEN)}",
          f"training.epochs={EPOCHS}", "--jobs", jobs, "--runs-dir", runs, "--quiet")
    return time.perf_counter() - t0


def speed(repeats: int, jobs: int, tmp: Path) -> tuple[list[str], bool]:
    cfg = digits_config(tmp)
    loops, sweeps = [], []
    for i in range(repeats):
        for name in (("loop", "sweep") if i % 2 == 0 else ("sweep", "loop")):
            runs = tmp / f"{name}-{i}"
            if name == "loop":
                loops.append(shell_loop(cfg, runs))
            else:
                sweeps.append(sweep(cfg, runs, jobs))
            print(f"  repeat {i + 1}: {name} {(loops if name == 'loop' else sweeps)[-1]:.2f} s", file=sys.stderr)
    loop, swept = statistics.median(loops), statistics.median(sweeps)
    ratio = loop / swept
    ok = ratio >= SPEED_BAR
    lines = [
        f"## Speed: 8 digits trials ({len(LRS)} lr x {len(HIDDEN)} hidden, {EPOCHS} epochs), {os.cpu_count()} cores",
        "",
        "| how | median wall time | runs |",
        "|---|---|---|",
        f"| 8 x `nncli train` in a serial loop | {loop:.2f} s | {', '.join(f'{t:.2f}' for t in loops)} |",
        f"| `nncli sweep --jobs {jobs}` | {swept:.2f} s | {', '.join(f'{t:.2f}' for t in sweeps)} |",
        "",
        f"Sweep {ratio:.2f}x faster (bar: >= {SPEED_BAR}x): {'met' if ok else 'NOT met'}.",
        "",
    ]
    return lines, ok


def trials(out: str) -> list[dict]:
    return [e for e in map(json.loads, out.splitlines()) if e.get("event") == "trial"]


def quality(jobs: int, tmp: Path) -> tuple[list[str], bool]:
    cfg = tmp / "default.yaml"
    cfg.write_text("name: default\ndata: {dataset: digits}\n")
    runs = tmp / "quality"
    base = json.loads(nncli("train", cfg, "--runs-dir", runs, "--quiet", "--json").stdout)
    base_val, epochs = base["final"]["validation"]["accuracy"], base["epochs"]
    print(f"  default config: val accuracy {base_val:.4f}", file=sys.stderr)

    t0 = time.perf_counter()
    rnd = nncli("sweep", cfg, *SPACE, "--strategy", "random", "--trials", 16, "--seed", 0, "--jobs", jobs,
                "--runs-dir", runs, "--json", "--quiet").stdout
    t_rnd = time.perf_counter() - t0
    t0 = time.perf_counter()
    hal = nncli("sweep", cfg, *SPACE, "--strategy", "halving", "--trials", 27, "--seed", 0, "--jobs", jobs,
                "--runs-dir", runs, "--json", "--quiet").stdout
    t_hal = time.perf_counter() - t0

    best_rnd = json.loads(rnd.splitlines()[-1])
    best_hal = json.loads(hal.splitlines()[-1])
    hal_trials = trials(hal)
    last = {}
    for e in hal_trials:  # each trial's last report: the epochs it trained in all
        last[e["trial"]] = e
    spent = sum(e["epochs_run"] for e in last.values())
    full = 27 * epochs
    ok_rnd = best_rnd["score"] > base_val
    ok_hal = best_hal["score"] > base_val
    ok_budget = spent <= HALVING_BUDGET * full
    lines = [
        "## Quality on digits (validation accuracy of the best trial)",
        "",
        "| search | trials | epochs trained | wall time | best val accuracy | beats the default |",
        "|---|---|---|---|---|---|",
        f"| default config (data.dataset: digits) | 1 | {epochs} | - | {base_val:.4f} | - |",
        f"| random search | 16 | {sum(e['epochs_run'] for e in trials(rnd))} | {t_rnd:.1f} s | "
        f"{best_rnd['score']:.4f} ({best_rnd['label']}) | {'yes' if ok_rnd else 'NO'} |",
        f"| successive halving (eta 3, rungs of 3, 10, 30 epochs) | 27 | {spent} = {spent / full:.0%} of {full} | {t_hal:.1f} s | "
        f"{best_hal['score']:.4f} ({best_hal['label']}) | {'yes' if ok_hal else 'NO'} |",
        "",
        f"Space: {' '.join(SPACE)}. Halving's budget bar (<= {HALVING_BUDGET:.0%} of training all 27 "
        f"fully): {'met' if ok_budget else 'NOT met'}.",
        "",
    ]
    return lines, ok_rnd and ok_hal and ok_budget


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    # whole `nncli` processes are timed: nncli's bytecode first, as `pip install` leaves it (this
    # machine may set PYTHONDONTWRITEBYTECODE=1, and every process would compile nncli from source)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "nncli")], check=True)
    lines = ["# nncli sweep benchmark", "",
             f"Python {sys.version.split()[0]}; children without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE; "
             f"BLAS: {kernel()}; load average before: {os.getloadavg()[0]:.2f}", ""]
    ok = True
    with tempfile.TemporaryDirectory(prefix="nncli-sweep-bench-") as tmp:
        if not args.skip_speed:
            part, good = speed(args.repeats, args.jobs, Path(tmp))
            lines += part
            ok &= good
        if not args.skip_quality:
            part, good = quality(args.jobs, Path(tmp))
            lines += part
            ok &= good
    lines.append(f"Load average after: {os.getloadavg()[0]:.2f} (other processes share the cores).")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
