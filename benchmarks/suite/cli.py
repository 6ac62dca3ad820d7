"""The whole `nncli` command: as a contender on each workload, and the start-up and per-epoch
bars. Every call goes through `nncli train CONFIG --quiet --json --runs-dir DIR` (or `--help`),
so it measures whichever nncli the command imports; a missing or failing CLI gives n/a with
its last error line, never a crash."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite.procs import time_commands
from suite.workloads import Workload

ITERS = {"full": (6000, 200, 3, 5), "quick": (1200, 200, 1, 2)}  # long, short epochs; runs of each group


def cli_config(w: Workload, name: str, epochs: int, npz: Path) -> dict:
    """The workload as an nncli experiment: 80% trains, 20% is validated each epoch."""
    data = {"scaling": "standard", "validation": w.validation, "test": w.test}
    if w.dataset == "digits":
        data["dataset"] = "digits"
    elif w.dataset == "large":
        data.update(dataset="make_classification", params={
            "n_samples": 100_000, "n_features": 100, "n_informative": 50, "n_classes": 10, "random_state": 0})
    else:  # y must arrive standardized, which only a file can carry
        data.update(path=str(npz), task="regression")
    return {"name": f"bench-{name}", "seed": 0, "data": data,
            "model": {"hidden": list(w.hidden), "activation": w.activation, "init": "xavier_uniform"},
            "loss": {"name": "cross_entropy" if w.classification else "mse"},
            "optimizer": {"name": "adam", "lr": w.nncli_lr} if w.solver == "adam"
            else {"name": "momentum", "lr": w.nncli_lr, "momentum": 0.9},
            "training": {"epochs": epochs, "batch_size": w.batch, "dtype": "float32"}}


def summary(stdout: str) -> dict | None:
    """The JSON summary `--json` prints, or None."""
    try:
        out = json.loads(stdout)
    except (json.JSONDecodeError, TypeError):
        return None
    return out if isinstance(out, dict) else None


def _check_json(_label, stdout):
    return None if summary(stdout) else "no JSON summary on stdout"


def train(cli: list[str], config: Path, metric: str, tmp: Path, env: dict, extra=()) -> dict | None:
    """One `nncli train`: wall time, the summary's timings and its test score (the validation
    score when there is no test split); None when it fails (the reason on stderr)."""
    runs = tempfile.mkdtemp(dir=tmp)
    t0 = time.perf_counter()
    proc = subprocess.run([*cli, "train", str(config), *extra, "--quiet", "--json", "--runs-dir", runs],
                          capture_output=True, text=True, check=False, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    shutil.rmtree(runs, ignore_errors=True)
    s = summary(proc.stdout) if proc.returncode == 0 else None
    if s is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  nncli train {config.name}: exit {proc.returncode}: {last}", file=sys.stderr)
        return None
    timings, final = s.get("timings") or {}, s.get("final") or {}
    scores = [(final.get(split) or {}).get(metric) for split in ("test", "validation")]
    return {"fit": timings.get("fit", wall), "wall": wall, "timings": timings, "mem": None,
            "epochs_run": s.get("epochs_run"), "score": next((v for v in scores if v is not None), None)}


def train_workload(name: str, w: Workload, tmp: Path, env: dict, cli: list[str] | None) -> dict | None:
    """The `nncli train` contender: the workload's config through the whole CLI."""
    return train(cli, tmp / f"{name}.yaml", "accuracy" if w.classification else "r2", tmp, env) if cli else None


def _no_early_stopping(cli, iris, tmp, env) -> tuple[list[str] | None, str]:
    """The override that turns early stopping off, as this CLI spells it (a 2-epoch probe)."""
    err = ""
    for off in ("training.early_stopping=false", "training.early_stopping.enabled=false"):
        extra = ["--set", "training.epochs=2", "--set", off]
        if train(cli, iris, "accuracy", tmp, env, extra) is not None:
            return ["--set", off], ""
        err = f"`--set {off}` failed"
    return None, err


def _median_fit(r: dict) -> float | None:
    """Median `timings.fit` over a command's timed runs, or None."""
    fits = [(summary(out) or {}).get("timings", {}).get("fit") for out in r["outputs"]]
    return statistics.median(fits) if fits and None not in fits and not r["error"] else None


def _ratio_bar(bars, label, need, value, ref, ref_text):
    r = value / ref if value and ref else None
    bars.append((f"{label} <= {need}x {ref_text}", f"{r:.2f}x ({value:.3f} s vs {ref:.3f} s)" if r else "n/a",
                 None if r is None else r <= need))


def startup(cli: list[str] | None, repo: Path, tmp: Path, env: dict, core_digits: float | None,
            quick: bool) -> tuple[list[str], list[tuple]]:
    """Markdown lines and bars: whole-process wall times of the CLI against `python -c "import numpy"`."""
    lines, bars = [], []
    long_epochs, short_epochs, long_runs, runs = ITERS["quick" if quick else "full"]
    iris, digits = repo / "configs" / "iris.yaml", repo / "configs" / "digits.yaml"
    runs_dir, numpy_label = tempfile.mkdtemp(dir=tmp), 'python -c "import numpy"'
    iris_label, digits_label = "nncli train configs/iris.yaml --quiet", "nncli train configs/digits.yaml --quiet --json"
    cmds = {numpy_label: [sys.executable, "-c", "import numpy"]}
    if cli:
        cmds.update({"nncli --help": [*cli, "--help"],
                     iris_label: [*cli, "train", str(iris), "--quiet", "--runs-dir", runs_dir],
                     digits_label: [*cli, "train", str(digits), "--quiet", "--json", "--runs-dir", runs_dir]})
    # the learning-curve picture is drawn by a detached process after each train returns: it is
    # waited for between commands (untimed), so that it never slows the next one down
    res = time_commands(cmds, env, runs, check=lambda label, out: _check_json(label, out) if "--json" in label else None,
                        settle=runs_dir)
    lines.append(f"Whole-process wall time, {runs} interleaved runs after 1 warm-up (median, min-max):\n")
    for label, r in res.items():
        lines.append(f"- `{label}`: " + (f"{r['median']:.3f} s ({r['min']:.3f}-{r['max']:.3f})" if r["median"]
                                          else f"n/a ({r['error'] or 'no CLI'})"))
    med = {label: r["median"] for label, r in res.items()}
    base, numpy_text = med[numpy_label], '`python -c "import numpy"`'
    _ratio_bar(bars, "`nncli train configs/iris.yaml --quiet` wall time", 5, med.get(iris_label), base, numpy_text)
    _ratio_bar(bars, "`nncli --help` wall time", 2, med.get("nncli --help"), base, numpy_text)
    ref = core_digits + base if core_digits and base else None
    _ratio_bar(bars, "`nncli train configs/digits.yaml` (30 epochs) wall time", 1.5, med.get(digits_label), ref,
               "(nncli core fit of the same config + `import numpy`)")
    if core_digits:
        lines.append(f"- nncli core fit of configs/digits.yaml's network and split, in a child: {core_digits:.3f} s")
    d = res.get(digits_label)
    # each timed run's wall time against that run's own timings (a median wall time against one
    # run's timings mixes two runs, and on a busy machine can even come out negative)
    runs_t = [((summary(out) or {}).get("timings") or {}, wall)
              for out, wall in zip(d["outputs"], d["times"])] if d and not d["error"] else []
    runs_t = [(t, wall) for t, wall in runs_t if t]
    if runs_t:
        keys = [k for k in ("startup", "imports", "data", "fit", "write") if any(k in t for t, _ in runs_t)]
        med = {k: statistics.median(t.get(k) or 0 for t, _ in runs_t) for k in keys}
        rest = statistics.median(wall - sum(t.get(k) or 0 for k in keys) for t, wall in runs_t)
        lines.append(f"- `nncli train configs/digits.yaml`'s own timings (median of {len(runs_t)} runs): "
                     + ", ".join(f"{k} {v:.3f} s" for k, v in med.items())
                     + f"; the rest of each run's wall time (interpreter start and teardown, untimed work) "
                     f"{rest:.3f} s")
        # startup: the interpreter and the command line's own imports, before `imports`
        outside = statistics.median(wall - sum(t.get(k) or 0 for k in ("startup", "imports", "fit"))
                                    for t, wall in runs_t)
        bars.append(("`nncli train configs/digits.yaml`: everything outside imports and fit < 0.2 s",
                     f"{outside:.3f} s", outside < 0.2))

    label = f"iris per-epoch fit cost, {long_epochs} vs {short_epochs} epochs, <= 1.2x"
    off, err = _no_early_stopping(cli, iris, tmp, env) if cli else (None, "no CLI")
    if off is None:
        bars.append((label, f"n/a ({err})", None))
        return lines, bars
    epoch_cmds = {n: [*cli, "train", str(iris), "--set", f"training.epochs={n}", *off, "--quiet", "--json",
                      "--runs-dir", runs_dir] for n in (short_epochs, long_epochs)}
    res = time_commands(epoch_cmds, env, long_runs, warmup=0, check=_check_json, settle=runs_dir)
    lines.append(f"\nIris with `--set training.epochs=N {' '.join(off)}`, {long_runs} interleaved run(s) each "
                 "(median):\n")
    per = {}
    for n, r in res.items():
        fit = _median_fit(r)
        per[n] = fit / n if fit else None
        lines.append(f"- {n} epochs: " + (f"wall {r['median']:.3f} s, fit {fit:.3f} s = {1e3 * fit / n:.3f} ms/epoch"
                                          if fit else f"n/a ({r['error'] or 'no timings.fit'})"))
    if per[long_epochs] and per[short_epochs]:
        ratio = per[long_epochs] / per[short_epochs]
        marginal = (per[long_epochs] * long_epochs - per[short_epochs] * short_epochs) / (long_epochs - short_epochs)
        lines.append(f"- the epochs past {short_epochs} cost {1e3 * marginal:.3f} ms each")
        bars.append((label, f"{ratio:.2f}x ({1e3 * per[long_epochs]:.3f} vs {1e3 * per[short_epochs]:.3f} ms/epoch)",
                     ratio <= 1.2))
    else:
        bars.append((label, "n/a (see above)", None))
    return lines, bars
