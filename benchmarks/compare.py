"""Compare nncli with scikit-learn, PyTorch, JAX and Keras on the same networks, data and optimizers.

    python benchmarks/compare.py [--repeats N] [--workloads digits,large,regression]
                                 [--contenders "nncli core,jax"] [--quick] [--pinned] [--cli CMD]

Every fit runs in a fresh child process (this script with --child), so imports, thread pools
and memory high-water marks never leak from one contender into the next; contenders take
turns within each repeat. Children run with the machine's own BLAS kernels: OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE are removed from each child's environment (not from this process's);
--pinned keeps them as inherited. Before the CLI is timed, the nncli package its command imports
is compiled to bytecode (`python -m compileall`, as `pip install` does), so that no timed process
compiles nncli from source under PYTHONDONTWRITEBYTECODE=1. The report (Markdown) goes to stdout,
progress to stderr.
The pieces live in benchmarks/suite/ (workloads, contenders, children, the CLI bars, the report).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


def _child(spec: str) -> None:
    sys.path.insert(1, str(REPO))  # the nncli beside this script, before any installed one
    from suite.child import main

    main(json.loads(spec))


def _versions() -> str:
    out = []
    for pkg in ("numpy", "scikit-learn", "threadpoolctl", "torch", "jax", "jaxlib", "optax", "keras"):
        try:
            out.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{pkg} not installed")
    return ", ".join(out)


def _cpu() -> str:
    with open("/proc/cpuinfo") as f:
        cpu = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
    simd = " ".join(f for f in ("avx2", "fma", "avx512f") if f in cpu.get("flags", "").split())
    return (f"{cpu.get('model name', '?')} (family {cpu.get('cpu family')}, model {cpu.get('model')}, {simd}), "
            f"{os.cpu_count()} logical CPUs, {platform.machine()}, Linux {platform.release()}")


def _cli_python(cli: list[str]) -> tuple[list[str], bool] | None:
    """The interpreter that runs the CLI, as a command prefix, and whether it imports nncli as
    from the current directory (`python -m nncli`) rather than as from anywhere (an installed
    script: its `#!` line; a pyenv shim is resolved with `pyenv which`). None if unknown."""
    if "-m" in cli[1:]:
        return cli[:cli.index("-m", 1)], True
    script = shutil.which(cli[0])
    for _ in range(2):  # the script, or the one a shim stands for
        try:
            text = Path(script).read_text(errors="replace") if script else ""
        except OSError:
            return None
        first = (text.splitlines() or [""])[0]
        if first.startswith("#!") and "python" in first:
            return shlex.split(first[2:]), False
        if "pyenv" not in text or not shutil.which("pyenv"):
            return None
        proc = subprocess.run(["pyenv", "which", Path(script).name], capture_output=True, text=True, check=False)
        script = proc.stdout.strip()
    return None


def _cli_origin(cli: list[str], env: dict, tmp: Path, compile_: bool) -> str:
    """Where the CLI's `import nncli` comes from (asked of its own interpreter); with `compile_`,
    that package is first compiled to bytecode, as `pip install` does. Without it, a checkout
    under PYTHONDONTWRITEBYTECODE=1 would compile every nncli module from source in every timed
    process, while numpy and the other dependencies were compiled when pip installed them."""
    found = _cli_python(cli)
    if found is None:
        return "unknown (not compiled)" if compile_ else "unknown"
    python, from_here = found
    cwd = None if from_here else tmp  # a script never imports from the current directory
    proc = subprocess.run([*python, "-c", "import nncli, os; print(os.path.dirname(nncli.__file__))"],
                          capture_output=True, text=True, cwd=cwd, env=env, check=False)
    origin = proc.stdout.strip()
    if not origin:
        return "unknown"
    if compile_:
        proc = subprocess.run([*python, "-m", "compileall", "-q", origin], capture_output=True, text=True,
                              cwd=cwd, env=env, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
            return f"{origin}; compiling its bytecode failed: {last}"
        return f"{origin}; nncli's bytecode compiled first, as `pip install` does"
    return origin


def prepare_mlp(name: str, w, tmp: Path, quick: bool) -> dict:
    """Write the workload's split (tmp/NAME.npz) and nncli config (tmp/NAME.yaml); return its
    epochs, training-set bytes, FLOPs of the fit and GEMM shapes."""
    import numpy as np
    import yaml

    from suite.cli import cli_config
    from suite.procs import progress
    from suite.workloads import make_data

    progress(f"preparing {name}")
    d, raw = make_data(w)
    np.savez(tmp / f"{name}.npz", **d)
    if not w.classification:  # the CLI reads these from a file; the others by dataset name
        np.savez(tmp / f"{name}-cli.npz", **raw)
    epochs = w.quick_epochs if quick else w.epochs
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(cli_config(w, name, epochs, tmp / f"{name}-cli.npz")),
                                      encoding="utf-8")
    dims = [d["Xtr"].shape[1], *w.hidden, int(d["ytr"].max()) + 1 if w.classification else 1]
    return {"epochs": epochs, "train_bytes": d["Xtr"].nbytes + d["ytr"].nbytes, "gemms": [],
            "flops": 6 * sum(a * b for a, b in itertools.pairwise(dims)) * len(d["Xtr"]) * epochs}


PREPARE = {"mlp": prepare_mlp}  # workload kind -> how its files are written (a new kind adds one)


def parse_args():
    from suite.contenders import CONTENDERS
    from suite.workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3, --quick 1)")
    p.add_argument("--workloads", default=",".join(n for n, w in WORKLOADS.items() if w.listed),
                   help="comma-separated; choices: " + ", ".join(WORKLOADS))
    p.add_argument("--contenders", default=",".join(CONTENDERS),
                   help="comma-separated (case and - or _ for spaces do not matter); choices: " + ", ".join(CONTENDERS))
    p.add_argument("--quick", action="store_true", help="1 repeat and a few epochs: a smoke test")
    p.add_argument("--pinned", action="store_true",
                   help="children keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as inherited (the reference)")
    p.add_argument("--cli", default=None, help="the nncli command (default: `nncli` on PATH)")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up and per-epoch bars of the CLI")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return a
    a.names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    if unknown := [n for n in a.names if n not in WORKLOADS]:
        p.error(f"--workloads: unknown {', '.join(unknown)}; choices: {', '.join(WORKLOADS)}")
    norm = {c.lower().replace("-", " ").replace("_", " "): c for c in CONTENDERS}
    wanted = [c.strip().lower().replace("-", " ").replace("_", " ") for c in a.contenders.split(",") if c.strip()]
    if unknown := [c for c in wanted if c not in norm]:
        p.error(f"--contenders: unknown {', '.join(unknown)}; choices: {', '.join(CONTENDERS)}")
    a.contender_list = [norm[c] for c in wanted]
    return a


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    a = parse_args()
    if a.child:
        return _child(a.child)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the temporary directory is removed
    from suite import cli as nncli_cli
    from suite import report
    from suite.contenders import CONTENDERS, NO_VAL, PINNED_CORE, PINS, missing
    from suite.procs import Background, child_env, progress, run_child
    from suite.workloads import WORKLOADS

    repeats, names = a.repeats or (1 if a.quick else 3), a.names
    pinned_here = {k: os.environ[k] for k in PINS if k in os.environ}
    cli = shlex.split(a.cli) if a.cli else ([shutil.which("nncli")] if shutil.which("nncli") else None)
    skipped = {}
    for c in a.contender_list:
        why = ("no nncli command (on PATH or --cli)" if c == "nncli train" and not cli
               else "--pinned: every child already keeps the pins" if c == PINNED_CORE and a.pinned
               else "no OPENBLAS_ pins in this environment" if c == PINNED_CORE and not pinned_here
               else missing(c))
        if why:
            skipped[c] = why
    contenders = [c for c in a.contender_list if c not in skipped]
    env = {c: child_env(a.pinned or CONTENDERS[c].pinned, CONTENDERS[c].env) for c in CONTENDERS}
    base_env = child_env(a.pinned)

    res: dict = {}
    kernel_groups: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmpdir, Background() as busy:
        tmp = Path(tmpdir)
        timed = "nncli train" in contenders  # the CLI's processes are timed whole: compile it first
        origin = _cli_origin(cli, base_env, tmp, compile_=timed) if cli else None
        extra = ["digits-config"] if "nncli core" in contenders and not a.no_startup else []
        info = {name: PREPARE[WORKLOADS[name].kind](name, WORKLOADS[name], tmp, a.quick) for name in names + extra}

        def fit(c, name):
            spec = {"mode": "fit", "contender": c, "workload": name, "data": str(tmp / f"{name}.npz"),
                    "epochs": info[name]["epochs"]}
            out = run_child(spec, env[c])
            kernel_groups.setdefault(c, []).append(out)
            return out

        for r in range(repeats):
            for name in names:  # contenders take turns, starting one further each repeat
                w = WORKLOADS[name]
                if w.kind == "mlp":
                    progress(f"repeat {r + 1}/{repeats}: {name}: GEMM rate")
                    g = run_child({"mode": "gemm", "workload": name, "data": str(tmp / f"{name}.npz")}, base_env)
                    kernel_groups.setdefault("GEMM rate", []).append(g)
                    info[name]["gemms"].append(g and g["gemm"])
                here = [c for c in contenders if w.kind in CONTENDERS[c].fits
                        and (not CONTENDERS[c].only or name in CONTENDERS[c].only)]
                for c in here[r % len(here):] + here[:r % len(here)] if here else []:
                    progress(f"repeat {r + 1}/{repeats}: {name}: {c}")
                    out = (CONTENDERS[c].fit_function(w.kind)(name, w, tmp, env[c], cli) if CONTENDERS[c].parent
                           else fit(c, name))
                    res.setdefault((name, c), []).append(out)
                    if out:
                        warm = f", compiled {out['fit_warm']:.3f} s" if "fit_warm" in out else ""
                        progress(f"  fit {out['fit']:.3f} s{warm}")
        for name in names:
            gemms = [g for g in info[name].get("gemms", []) if g]
            info[name]["gemm"] = statistics.median(gemms) if gemms else None

        faster, profiles = [], {}
        if "jax" in contenders:
            for name in names:
                core, warm = (report.medians(res, name, c)[1] for c in ("nncli core", "jax"))
                if core.get("fit") and warm.get("fit_warm") and warm["fit_warm"] < core["fit"]:
                    progress(f"profiling nncli core on {name}")
                    faster.append(name)
                    profiles[name] = run_child({"mode": "profile", "workload": name, "epochs": info[name]["epochs"],
                                                "data": str(tmp / f"{name}.npz")}, env["nncli core"])

        startup_lines, startup_bars = [], []
        if not a.no_startup:
            core_digits = None
            if "digits-config" in info:
                outs = [fit("nncli core", "digits-config") for _ in range(repeats)]
                fits = [o["fit"] for o in outs if o]
                core_digits = statistics.median(fits) if fits else None
            progress("start-up and per-epoch bars of the CLI")
            startup_lines, startup_bars = nncli_cli.startup(cli if "nncli train" in contenders else None, REPO,
                                                             tmp, base_env, core_digits, a.quick)

    first = next((o for outs in kernel_groups.values() for o in outs if o), {})
    print(f"## Machine ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(f"- CPU: {_cpu()}\n- Python {platform.python_version()}; {_versions()}")
    print(f"- This process's environment: {', '.join(f'{k}={v}' for k, v in pinned_here.items()) or 'no OpenBLAS pins'}; "
          + ("children keep them (--pinned)" if a.pinned else
             f"children run without {' and '.join(PINS)} (the machine's own kernels), except "
             f"\"{PINNED_CORE}\", which keeps them for reference"))
    print(f"- nncli core imported from {first.get('nncli', 'n/a')}; the CLI is "
          + (f"`{' '.join(cli)}` (imports nncli from {origin})" if cli else "missing"))
    print(f"- Load average (1, 5, 15 min) before {busy.load_before}, after {busy.load_after}; CPU used by other "
          f"processes during the run: {busy.cores:.2f} cores on average"
          + (" (busy: the timings below are not trustworthy)" if busy.cores > 0.25 else ""))
    print("\n## Kernels each child saw\n")
    report.kernel_section(kernel_groups)
    print(f"\n## Fit time, score, memory ({repeats} interleaved repeat(s){', --quick' if a.quick else ''})\n")
    shown = [c for c in contenders if c != NO_VAL]
    bars = report.table(names, shown, res, info)
    for c, why in skipped.items():
        print(f"\n- {c}: skipped, {why}")
    print("\nGEMM rate of np.matmul at each workload's shapes (float32, in a child, median over the repeats): "
          + ", ".join(f"{n} {report.fmt(info[n]['gemm'] and info[n]['gemm'] / 1e9, '.1f')} GFLOP/s" for n in names))
    if "jax" in contenders or "keras" in contenders:
        print("\n## JAX and Keras, with and without compilation\n")
        report.jax_section(names, res)
        for name in faster:
            core, warm = report.medians(res, name, "nncli core")[1]["fit"], report.medians(res, name, "jax")[1]["fit_warm"]
            print(f"\n- {name}: compiled JAX is faster than nncli core: {warm:.3f} s against {core:.3f} s "
                  f"(nncli takes {core / warm:.2f}x as long, {100 * (1 - warm / core):.0f}% of nncli's time saved)")
        for name in faster:
            report.profile_section(name, profiles.get(name), report.medians(res, name, "nncli core")[1].get("fit"))
    if startup_lines or startup_bars:
        print("\n## Start-up and per-epoch cost of the whole CLI\n")
        print(*startup_lines, sep="\n")
    print("\n## Bars\n")
    for label, value, ok in bars + startup_bars:
        print(f"- {report.verdict(ok)} {label}: {value}")


if __name__ == "__main__":
    main()
