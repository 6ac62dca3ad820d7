"""Compare nncli with scikit-learn and PyTorch on the same networks, data and optimizers.

    python benchmarks/compare.py [--repeats N] [--workloads digits,large,regression] [--quick]

Every fit runs in a fresh child process (this script with --child), so imports, thread pools
and memory high-water marks never leak from one contender into the next; contenders take
turns within each repeat. The report (Markdown) goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

MIB = 2**20
HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


@dataclass(frozen=True)
class Workload:
    task: str  # classification | regression
    hidden: tuple[int, ...]
    activation: str
    solver: str  # adam | sgd (momentum 0.9, no Nesterov)
    lr: float  # on the objective scikit-learn minimizes (0.5 * MSE for regression)
    batch: int
    epochs: int
    quick_epochs: int

    @property
    def nncli_lr(self) -> float:
        # nncli's "mse" is mean((y-p)^2), twice scikit-learn's 0.5*mean((y-p)^2); momentum SGD
        # is linear in the gradient, so half the rate gives the very same updates.
        return self.lr / 2 if self.task == "regression" else self.lr


WORKLOADS = {
    "digits": Workload("classification", (128,), "relu", "adam", 1e-3, 64, 100, 10),
    "large": Workload("classification", (256, 256), "relu", "adam", 1e-3, 256, 5, 1),
    "regression": Workload("regression", (64, 64), "tanh", "sgd", 0.01, 32, 20, 2),
}
# contender time / nncli core time must reach these: nncli <= 0.5x scikit-learn on digits, ...
SPEED_BARS = {("scikit-learn", "digits"): 2.0, ("scikit-learn", "regression"): 2.0,
              ("scikit-learn", "large"): 1 / 0.7, ("pytorch", "digits"): 1 / 0.3,
              ("pytorch", "regression"): 1 / 0.3, ("pytorch", "large"): 1 / 0.7}
SCORE_TOL = 0.005  # 0.5 accuracy points, or 0.005 of R^2
MEM_SLACK = 32 * MIB
NO_VAL = "nncli core, no validation"


# ------------------------------------------------------------------ data
def make_data(name: str) -> tuple[dict, dict]:
    """(the float32 split every in-process contender uses, raw X and y for a CLI .npz)."""
    from sklearn.datasets import load_digits, make_classification, make_regression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "large":
        X, y = make_classification(n_samples=100_000, n_features=100, n_informative=50,
                                   n_classes=10, random_state=0)
    else:
        X, y = make_regression(n_samples=20_000, n_features=20, noise=10, random_state=0)
    clf = WORKLOADS[name].task == "classification"
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y if clf else None)
    scaler = StandardScaler().fit(Xtr)
    d = {"Xtr": scaler.transform(Xtr).astype(np.float32), "Xte": scaler.transform(Xte).astype(np.float32)}
    if clf:
        d["ytr"], d["yte"] = ytr.astype(np.int64), yte.astype(np.int64)
        return d, {"X": X, "y": y}
    mu, sd = ytr.mean(), ytr.std()
    d["ytr"], d["yte"] = ((ytr - mu) / sd).astype(np.float32), ((yte - mu) / sd).astype(np.float32)
    return d, {"X": X, "y": (y - mu) / sd}


def score(task: str, pred: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of predicted labels, or R^2 of predicted values."""
    if task == "classification":
        return float(np.mean(pred == y))
    pred, y = pred.astype(np.float64).ravel(), y.astype(np.float64)
    return 1.0 - float(((y - pred) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())


# ------------------------------------------------------------------ measuring
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


class Meter:
    """Wall time and peak resident memory above the starting point of a with-block.

    The kernel's high-water mark is reset on entry (clear_refs "5"); where that is refused
    the block is measured against the earlier high-water mark, which can only under-count.
    """

    def __enter__(self):
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.base = _status_kib("VmRSS")
        except OSError:
            self.base = _status_kib("VmHWM")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.extra = (_status_kib("VmHWM") - self.base) * 1024


# ------------------------------------------------------------------ contenders
def fit_nncli(w: Workload, d: dict, epochs: int, meter: Meter, validate: bool = True):
    from nncli.losses import make_loss
    from nncli.model import build_mlp
    from nncli.optim import make_optimizer
    from nncli.train import Trainer

    clf = w.task == "classification"
    with meter:
        rng = np.random.default_rng(0)
        net = build_mlp(d["Xtr"].shape[1], list(w.hidden), int(d["ytr"].max()) + 1 if clf else 1,
                        activation=w.activation, init="xavier_uniform", dtype=np.float32, rng=rng)
        opt = make_optimizer("adam" if w.solver == "adam" else "momentum", [net.trainable],
                             w.nncli_lr, momentum=0.9)
        tr = Trainer(net, make_loss("cross_entropy" if clf else "mse"), opt, epochs=epochs,
                     batch_size=w.batch, rng=rng, task=w.task)
        tr.fit(d["Xtr"], d["ytr"], *((d["Xte"], d["yte"]) if validate else ()))
    if validate:  # the per-epoch validation pass (loss and metric), timed on its own
        t0 = time.perf_counter()
        for _ in range(5):
            tr.evaluate(d["Xte"], d["yte"])
        meter.validation = epochs * (time.perf_counter() - t0) / 5
    out = net.predict(d["Xte"])
    return out.argmax(axis=1) if clf else out[:, 0]


def fit_sklearn(w: Workload, d: dict, epochs: int, meter: Meter):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kw = {"hidden_layer_sizes": w.hidden, "activation": w.activation, "solver": w.solver,
          "learning_rate_init": w.lr, "batch_size": w.batch, "max_iter": epochs, "tol": 0.0,
          "n_iter_no_change": epochs + 1, "early_stopping": False, "alpha": 0.0, "shuffle": True,
          "random_state": 0}
    if w.solver == "sgd":
        kw.update(momentum=0.9, nesterovs_momentum=False, learning_rate="constant")
    cls = MLPClassifier if w.task == "classification" else MLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with meter:
            est = cls(**kw).fit(d["Xtr"], d["ytr"])
    return est.predict(d["Xte"])


def fit_torch(w: Workload, d: dict, epochs: int, meter: Meter):
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    clf = w.task == "classification"
    X, y, Xte = (torch.from_numpy(d[k]) for k in ("Xtr", "ytr", "Xte"))
    with meter:
        layers, width = [], X.shape[1]
        for units in w.hidden:
            layers += [nn.Linear(width, units), nn.ReLU() if w.activation == "relu" else nn.Tanh()]
            width = units
        model = nn.Sequential(*layers, nn.Linear(width, int(y.max()) + 1 if clf else 1))
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if clf:
            opt = torch.optim.Adam(model.parameters(), lr=w.lr)
            loss_fn = nn.functional.cross_entropy
        else:  # 0.5 * MSE: scikit-learn's objective, at its learning rate
            opt = torch.optim.SGD(model.parameters(), lr=w.lr, momentum=0.9, nesterov=False)

            def loss_fn(out, t):
                return 0.5 * nn.functional.mse_loss(out[:, 0], t)
        for _ in range(epochs):
            perm, total = torch.randperm(len(X)), 0.0
            for lo in range(0, len(X), w.batch):
                idx = perm[lo:lo + w.batch]
                loss = loss_fn(model(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)  # the epoch's loss, as nncli and sklearn keep it
    with torch.no_grad():
        out = model(Xte)
    return (out.argmax(dim=1) if clf else out[:, 0]).numpy()


CONTENDERS = {"nncli core": fit_nncli, "scikit-learn": fit_sklearn, "pytorch": fit_torch,
              NO_VAL: functools.partial(fit_nncli, validate=False)}


def child(contender: str, name: str, data_file: str, epochs: int) -> None:
    """Warm up on a sliver of the data, then fit once and print time, memory and score as JSON."""
    with np.load(data_file, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    w, fit, meter = WORKLOADS[name], CONTENDERS[contender], Meter()
    fit(w, {k: v[:256] for k, v in d.items()}, 1, Meter())
    pred = fit(w, d, epochs, meter)
    print(json.dumps({"fit": meter.seconds, "mem": meter.extra, "score": score(w.task, pred, d["yte"]),
                      "val": getattr(meter, "validation", None)}))


def measure(contender: str, name: str, data_file: Path, epochs: int) -> dict | None:
    cmd = [sys.executable, str(HERE), "--child", contender, name, str(data_file), str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"  {contender} on {name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the CLI path
def cli_config(w: Workload, name: str, epochs: int, npz: Path) -> dict:
    """The workload as an nncli experiment: 80% trains, 20% is validated each epoch."""
    data = {"scaling": "standard", "validation": 0.2, "test": 0.0}
    if name == "digits":
        data["dataset"] = "digits"
    elif name == "large":
        data.update(dataset="make_classification", params={
            "n_samples": 100_000, "n_features": 100, "n_informative": 50, "n_classes": 10, "random_state": 0})
    else:  # y must arrive standardized, which only a file can carry
        data.update(path=str(npz), task="regression")
    return {"name": f"bench-{name}", "seed": 0, "data": data,
            "model": {"hidden": list(w.hidden), "activation": w.activation, "init": "xavier_uniform"},
            "loss": {"name": "cross_entropy" if w.task == "classification" else "mse"},
            "optimizer": {"name": "adam" if w.solver == "adam" else "momentum", "lr": w.nncli_lr,
                          "momentum": 0.9},
            "training": {"epochs": epochs, "batch_size": w.batch, "dtype": "float32"}}


def run_cli(config: Path, metric: str, tmp: Path) -> dict | None:
    """`nncli train CONFIG --quiet --json`: wall time, the summary's timings and its test score
    (the validation score when there is no test split); None when the CLI is missing or fails."""
    exe = shutil.which("nncli")
    if exe is None:
        return None
    runs = tempfile.mkdtemp(dir=tmp)
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "train", str(config), "--quiet", "--json", "--runs-dir", runs],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    shutil.rmtree(runs, ignore_errors=True)
    try:
        summary = json.loads(proc.stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        summary = None
    if not isinstance(summary, dict):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  nncli train {config.name}: exit {proc.returncode}: {last}", file=sys.stderr)
        return None
    timings, final = summary.get("timings") or {}, summary.get("final") or {}
    scores = [(final.get(split) or {}).get(metric) for split in ("test", "validation")]
    return {"fit": timings.get("fit", wall), "wall": wall, "timings": timings, "mem": None,
            "score": next((v for v in scores if v is not None), None)}


# ------------------------------------------------------------------ machine
def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its children)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    t = os.times()
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return busy, t.user + t.system + t.children_user + t.children_system


def median_seconds(cmd: list[str], runs: int = 5) -> float | None:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
            return None
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_rate(dims: list[int], batch: int, seconds: float = 0.2, rounds: int = 8) -> float:
    """float32 FLOP/s of np.matmul at a network's shapes: per layer x@W, x.T@dz and dz@W.T.

    The median of several rounds, like the fit times it is compared with.
    """
    rng = np.random.default_rng(0)
    shapes = list(zip(dims[:-1], dims[1:]))
    mats = [(rng.standard_normal((batch, a), np.float32), rng.standard_normal((a, b), np.float32),
             rng.standard_normal((batch, b), np.float32)) for a, b in shapes]
    flops, rates = 6 * batch * sum(a * b for a, b in shapes), []
    for _ in range(rounds):
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for x, W, dz in mats:
                np.matmul(x, W), np.matmul(x.T, dz), np.matmul(dz, W.T)
            k += 1
        rates.append(flops * k / (time.perf_counter() - t0))
    return statistics.median(rates[1:])  # the first round warms up the thread pool


def machine() -> list[str]:
    import sklearn
    from threadpoolctl import threadpool_info

    with open("/proc/cpuinfo") as f:
        cpu = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}
    simd = " ".join(f for f in ("avx2", "fma", "avx512f") if f in cpu.get("flags", "").split())
    blas = [f"{p['internal_api']} {p['version']} in {Path(p['filepath']).parent.name} "
            f"({p.get('architecture')}, {p['num_threads']} threads)"
            for p in threadpool_info() if p["user_api"] == "blas"]
    torch = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__, torch.get_num_threads())"],
                           capture_output=True, text=True, check=False).stdout.split()
    return [f"- CPU: {cpu.get('model name', '?')} (family {cpu.get('cpu family')}, model {cpu.get('model')}, "
            f"{simd}), {os.cpu_count()} logical CPUs, {platform.machine()}, Linux {platform.release()}",
            f"- Python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}",
            f"- BLAS: {'; '.join(blas) or 'unknown'}",
            "- Environment: " + (", ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                                           if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))) or "no BLAS variables"),
            f"- PyTorch: {torch[0]} ({torch[1]} threads)" if torch else "- PyTorch: not importable"]


# ------------------------------------------------------------------ report
def fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def prepare(name: str, quick: bool, tmp: Path) -> dict:
    """Write the workload's data and CLI config to `tmp`; return its shapes, sizes and FLOPs."""
    w = WORKLOADS[name]
    d, raw = make_data(name)
    epochs = w.quick_epochs if quick else w.epochs
    np.savez(tmp / f"{name}.npz", **d)
    if w.task == "regression":  # the CLI reads these from a file; the others by dataset name
        np.savez(tmp / f"{name}-cli.npz", **raw)
    config = cli_config(w, name, epochs, tmp / f"{name}-cli.npz")
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    dims = [d["Xtr"].shape[1], *w.hidden, int(d["ytr"].max()) + 1 if w.task == "classification" else 1]
    n_weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return {"epochs": epochs, "train_bytes": d["Xtr"].nbytes + d["ytr"].nbytes, "dims": dims,
            "flops": 6 * n_weights * len(d["Xtr"]) * epochs, "gemms": []}


def table(names, contenders, res, info) -> list[tuple[str, str, bool | None]]:
    """Print the results table; return the bars as (label, value, passed or None)."""
    bars = []

    def bar(label, value, ok):
        bars.append((label, value, ok))
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    print("| workload | contender | epochs | fit s (median) | fit s (min-max) | time / nncli core | bar "
          "| test score | extra peak MiB | GEMM % |\n" + "|---" * 10 + "|")
    for name in names:
        runs = {c: {k: [o[k] for o in res.get((name, c), []) if o and o.get(k) is not None]
                    for k in ("fit", "score", "mem", "val")} for c in [*contenders, NO_VAL]}
        med = {c: {k: statistics.median(v) if v else None for k, v in r.items()} for c, r in runs.items()}
        core, rate = med["nncli core"], info[name]["flops"] / info[name]["gemm"]
        best = max(med[c]["score"] or 0 for c in ("nncli core", "scikit-learn", "pytorch") if c in med)
        for c in contenders:
            m, mark = med[c], ""
            ratio = m["fit"] / core["fit"] if m["fit"] and core["fit"] else None
            if (c, name) in SPEED_BARS:
                need = SPEED_BARS[(c, name)]
                mark = f">= {need:.2f} " + bar(f"{name}: time <= {1 / need:.1f}x {c}",
                                                f"{c} takes {fmt(ratio, '.2f')}x as long",
                                                None if ratio is None else ratio >= need)
            if c == "nncli core" and m["score"] is not None:
                mark = f"within {SCORE_TOL} of best " + bar(
                    f"{name}: test score within {SCORE_TOL} of the best ({best:.4f})",
                    f"{m['score']:.4f}", m["score"] >= best - SCORE_TOL)
            mem = "—" if m["mem"] is None else f"{m['mem'] / MIB:.1f}"
            gemm, fits = m["fit"] and 100 * rate / m["fit"], runs[c]["fit"]
            spread = f"{min(fits):.3f}-{max(fits):.3f}" if fits else "n/a"
            print(f"| {name} | {c} | {info[name]['epochs']} | {fmt(m['fit'])} | {spread} | {fmt(ratio, '.2f')} "
                  f"| {mark} | {fmt(m['score'], '.4f')} | {mem} | {fmt(gemm, '.1f')} |")
        if name == "large":
            g, limit = core["fit"] and 100 * rate / core["fit"], info[name]["train_bytes"] + MEM_SLACK
            bar("large: >= 50% of the np.matmul GEMM rate", f"{fmt(g, '.1f')}%", None if g is None else g >= 50)
            bar(f"large: extra peak memory <= training set + 32 MiB = {limit / MIB:.1f} MiB",
                f"{fmt(core['mem'] and core['mem'] / MIB, '.1f')} MiB",
                None if core["mem"] is None else core["mem"] <= limit)
        if name == "digits":  # timed directly, and as the fit with minus the fit without
            with_val, without, val = core["fit"], med[NO_VAL]["fit"], core["val"]
            frac = val / with_val if val and with_val else None
            diff = 100 * (1 - without / with_val) if with_val and without else None
            bar("digits: validation + metrics <= 10% of the fit", f"{fmt(frac and 100 * frac, '.1f')}% timed "
                f"directly; {fmt(diff, '.1f')}% from {fmt(with_val)} s with vs {fmt(without)} s without",
                None if frac is None else frac <= 0.10)
    return bars


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3, --quick 1)")
    p.add_argument("--workloads", default="digits,large,regression", help="comma-separated")
    p.add_argument("--quick", action="store_true", help="1 repeat and a few epochs: a smoke test")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.child[0], a.child[1], a.child[2], int(a.child[3]))
    names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    if unknown := [n for n in names if n not in WORKLOADS]:
        p.error(f"--workloads: unknown {', '.join(unknown)}; choices: {', '.join(sorted(WORKLOADS))}")
    repeats = a.repeats or (1 if a.quick else 3)
    has_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, check=False).returncode == 0
    contenders = ["nncli core", "nncli train", "scikit-learn"] + (["pytorch"] if has_torch else [])

    res: dict = {}
    busy0, own0, t0 = *cpu_seconds(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        info = {name: prepare(name, a.quick, tmp) for name in names}
        for r in range(repeats):
            for name in names:  # contenders take turns, starting one further each repeat
                info[name]["gemms"].append(gemm_rate(info[name]["dims"], WORKLOADS[name].batch))
                order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
                for c in order + ([NO_VAL] if name == "digits" else []):
                    print(f"repeat {r + 1}/{repeats}: {name}: {c}", file=sys.stderr)
                    metric = "accuracy" if WORKLOADS[name].task == "classification" else "r2"
                    res.setdefault((name, c), []).append(
                        run_cli(tmp / f"{name}.yaml", metric, tmp) if c == "nncli train"
                        else measure(c, name, tmp / f"{name}.npz", info[name]["epochs"]))
        cfg = REPO / "configs" / "digits.yaml"
        breakdown = run_cli(cfg, "accuracy", tmp) if cfg.exists() else None
    for name in names:
        info[name]["gemm"] = statistics.median(info[name]["gemms"])
    busy1, own1 = cpu_seconds()
    background = max(0.0, (busy1 - busy0) - (own1 - own0)) / (time.perf_counter() - t0)
    exe = shutil.which("nncli")
    startup = {"`nncli --help`": median_seconds([exe, "--help"]) if exe else None,
               '`python -c "import nncli.cli, nncli.runner"`':
                   median_seconds([sys.executable, "-c", "import nncli.cli, nncli.runner"]),
               "`python -c pass`": median_seconds([sys.executable, "-c", "pass"])}

    print(f"## Machine ({time.strftime('%Y-%m-%d %H:%M')})\n", *machine(), sep="\n")
    print(f"- CPU used by other processes during the run: {background:.2f} cores on average"
          + (" (too busy: the timings below are not trustworthy)" if background > 0.25 else ""))
    print(f"\n## Fit time, score, memory ({repeats} interleaved repeat(s){', --quick' if a.quick else ''})\n")
    bars = table(names, contenders, res, info)
    if not has_torch:
        print("\nPyTorch is not importable here: its column is skipped.")
    print("\nGEMM rate of np.matmul at each workload's shapes (float32, median over the repeats): "
          + ", ".join(f"{n} {info[n]['gemm'] / 1e9:.1f} GFLOP/s" for n in names))
    print("\n## Start-up and where `nncli train` spends its time\n")
    for label, seconds in startup.items():
        print(f"- {label}: {fmt(seconds)} s (median of 5)")
    help_s = startup["`nncli --help`"]
    bars.append(("`nncli --help` < 0.3 s", f"{fmt(help_s)} s", None if help_s is None else help_s < 0.3))
    if breakdown:
        t, wall = breakdown["timings"], breakdown["wall"]
        rest = wall - sum(t.get(k) or 0 for k in ("imports", "data", "fit", "write"))
        print(f"- `nncli train configs/digits.yaml`: wall {wall:.3f} s; its timings: "
              + ", ".join(f"{k} {fmt(t.get(k))} s" for k in ("imports", "data", "fit", "write"))
              + f"; the rest (interpreter start, untimed work) {rest:.3f} s")
        outside = wall - (t.get("imports") or 0) - (t.get("fit") or 0)
        bars.append(("`nncli train configs/digits.yaml`: everything outside imports and fit < 0.2 s",
                     f"{outside:.3f} s", outside < 0.2))
    else:
        print("- `nncli train configs/digits.yaml`: n/a (the file or the CLI is missing, or it failed)")
    print("\n## Bars (nncli core)\n")
    for label, value, ok in bars:
        print(f"- {'n/a ' if ok is None else ('PASS' if ok else 'FAIL')} {label}: {value}")


if __name__ == "__main__":
    main()
