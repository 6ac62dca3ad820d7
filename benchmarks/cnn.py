"""Train the same small CNN with nncli's numeric core and with PyTorch (CPU, float32).

    python benchmarks/cnn.py                      # 3 interleaved repeats of both workloads
    python benchmarks/cnn.py --quick              # 1 repeat, 1-2 epochs: a smoke test
    python benchmarks/cnn.py --profile synthetic  # where nncli's time goes: per layer, then cProfile

The network: conv 16 3x3 same, relu, maxpool 2, conv 32 3x3 (valid by default; --conv2-padding
same), relu, maxpool 2, flatten, dense 64, relu, dense 10; Glorot-uniform weights and zero biases
in both; softmax cross-entropy, Adam lr 1e-3, batches of 64, shuffled every epoch, no validation.
Workloads: "digits" (scikit-learn's 8x8 digits as 1x8x8 images, /16) and "synthetic" (10,000
seeded 1x28x28 images: ten smooth random prototypes, shifted by up to 4 pixels, under heavy
noise), both split 80/20 (stratified, random_state 0).

nncli runs once per ``--threads`` setting (default "auto,1": the BLAS thread count nncli's
runner would choose, ``nncli.blas.fit_threads``, and one thread); PyTorch once per
``--torch-threads`` setting (default 2). The bar compares each nncli row with the first PyTorch
setting.

Every fit runs in a fresh child process (this script with --child) whose environment lacks
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, after a one-epoch warm-up on 256 rows; contenders take
turns within each repeat. Each child reports the BLAS libraries threadpoolctl sees and how busy
the rest of the machine was while it ran (other processes' CPU use, in cores), and the fit's
own CPU seconds (all its threads, spinning ones included). On a shared machine read the fit
times with that column: threads that wait on each other (OpenMP, OpenBLAS) lose most when
other processes hold a core. The report (Markdown) goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
PINNED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # removed from every child's environment
BATCH, LR = 64, 1e-3
EPOCHS = {"digits": (30, 2), "synthetic": (3, 1)}  # (full, --quick)
BAR = 1.5  # nncli's fit time may be at most this multiple of PyTorch's


# ------------------------------------------------------------------ data
def make_data(name: str) -> dict:
    from sklearn.model_selection import train_test_split

    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).reshape(-1, 1, 8, 8)
    else:
        X, y = synthetic_images(10_000, seed=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    return {"Xtr": Xtr.astype(np.float32), "Xte": Xte.astype(np.float32),
            "ytr": ytr.astype(np.int64), "yte": yte.astype(np.int64)}


def synthetic_images(n: int, seed: int, size: int = 28, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, size, size) images: one smoothed random prototype per class (unit variance),
    rolled by up to 4 pixels each way, plus white noise of standard deviation 4."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    protos = gaussian_filter(rng.standard_normal((classes, size, size)), sigma=(0, 2, 2))
    protos /= protos.std(axis=(1, 2), keepdims=True)
    y = rng.integers(0, classes, n)
    dy, dx = rng.integers(-4, 5, (2, n))
    rows = (np.arange(size)[None, :] - dy[:, None]) % size
    cols = (np.arange(size)[None, :] - dx[:, None]) % size
    X = protos[y[:, None, None], rows[:, :, None], cols[:, None, :]]
    X += 4.0 * rng.standard_normal(X.shape)
    return X[:, None], y


# ------------------------------------------------------------------ contenders
def fit_nncli(d: dict, epochs: int, conv2_padding: str, threads: str, prepare=None):
    """Build and train; returns predicted test labels and the BLAS threads used. ``threads``:
    "auto" (nncli's own choice, nncli.blas.fit_threads) or a number; ``prepare(net)`` runs
    before training."""
    from nncli.nn import Conv2D, Dense, Flatten, MaxPool2D, Network, Trainer, make_loss, make_optimizer
    from nncli.nn.activations import ReLU
    from threadpoolctl import threadpool_limits

    net = Network([Conv2D(16, 3, padding="same"), ReLU(), MaxPool2D(2),
                   Conv2D(32, 3, padding=conv2_padding), ReLU(), MaxPool2D(2),
                   Flatten(), Dense(64), ReLU(), Dense(10)], d["Xtr"].shape[1:], dtype=np.float32, seed=0)
    if threads == "auto":
        from nncli.blas import fit_threads

        n_threads = fit_threads(net, BATCH, len(d["Xtr"]))
    else:
        n_threads = int(threads)
    opt = make_optimizer("adam", net, lr=LR)
    trainer = Trainer(net, make_loss("cross_entropy"), opt, epochs=epochs, batch_size=BATCH,
                      rng=np.random.default_rng(1))
    if prepare is not None:
        prepare(net)
    with threadpool_limits(n_threads, user_api="blas") if n_threads else contextlib.nullcontext():
        trainer.fit(d["Xtr"], d["ytr"])
        pred = net.predict(d["Xte"]).argmax(axis=1)
    return pred, n_threads


def fit_torch(d: dict, epochs: int, conv2_padding: str, threads: str):
    import torch
    from torch import nn

    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    X, y, Xte = (torch.from_numpy(d[k]) for k in ("Xtr", "ytr", "Xte"))
    side = X.shape[-1] // 2
    side = (side - 2 if conv2_padding == "valid" else side) // 2
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=conv2_padding), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * side * side, 64), nn.ReLU(), nn.Linear(64, 10))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(epochs):
        perm, total = torch.randperm(len(X)), 0.0
        for lo in range(0, len(X), BATCH):
            idx = perm[lo:lo + BATCH]
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # the epoch's loss, as nncli's trainer keeps it
    with torch.no_grad():
        return model(Xte).argmax(dim=1).numpy(), torch.get_num_threads()


CONTENDERS = {"nncli": fit_nncli, "pytorch": fit_torch}


# ------------------------------------------------------------------ one child
def blas_libraries() -> list[str]:
    from threadpoolctl import threadpool_info

    return [f"{p['user_api']}: {p['internal_api']} {p.get('version')} {p.get('architecture') or ''}"
            f" ({p['num_threads']} threads) from {Path(p['filepath']).name}" for p in threadpool_info()]


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def child(contender: str, data_file: str, epochs: int, conv2_padding: str, threads: str) -> None:
    """Warm up, fit once, print time, accuracy and the BLAS seen as one JSON line."""
    with np.load(data_file, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    fit = CONTENDERS[contender]
    fit({k: v[:256] for k, v in d.items()}, 1, conv2_padding, threads)
    busy0, cpu0, t0 = machine_busy(), time.process_time(), time.perf_counter()
    pred, n_threads = fit(d, epochs, conv2_padding, threads)
    seconds = time.perf_counter() - t0
    others = (machine_busy() - busy0 - (time.process_time() - cpu0)) / seconds
    print(json.dumps({"fit": seconds, "cpu": time.process_time() - cpu0,
                      "accuracy": float(np.mean(pred == d["yte"])), "threads": n_threads,
                      "blas": blas_libraries(), "others": max(others, 0.0),
                      "pinned": [k for k in PINNED if k in os.environ]}))


def measure(contender: str, data_file: Path, epochs: int, args) -> dict | None:
    """Run one fit in a child; ``contender`` is "<nncli|pytorch> threads=<setting>"."""
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    name, _, threads = contender.partition(" threads=")
    cmd = [sys.executable, str(HERE), "--child", name, str(data_file), str(epochs),
           args.conv2_padding, threads]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        print(f"  {contender} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ profile
def profile(name: str, args) -> None:
    """One fit of nncli in this process (re-run without the pinned variables): seconds per
    layer forward and backward, then the functions cProfile finds most expensive."""
    import cProfile
    import pstats

    d = make_data(name)
    epochs = EPOCHS[name][1]
    threads = args.threads.split(",")[0]
    fit_nncli({k: v[:256] for k, v in d.items()}, 1, args.conv2_padding, threads)
    nets, timing = [], {}

    def timed(layer, method):
        def run(*a, **kw):
            t0 = time.perf_counter()
            out = method(*a, **kw)
            key = (id(layer), method.__name__)
            timing[key] = timing.get(key, 0.0) + time.perf_counter() - t0
            return out
        return run

    def wrap(net):  # the network calls layer.forward / layer.backward: time each instance's own
        nets.append(net)
        for layer in net.layers:
            layer.forward, layer.backward = timed(layer, layer.forward), timed(layer, layer.backward)

    t0 = time.perf_counter()
    fit_nncli(d, epochs, args.conv2_padding, threads, wrap)
    total = time.perf_counter() - t0
    net = nets[0]
    print(f"\n## Where nncli's time goes: {name}, {epochs} epoch(s), BLAS threads {threads}, "
          f"{total:.2f} s in all\n")
    print("| layer | forward s | backward s | share of the fit |\n|---|---|---|---|")
    for layer_name, layer in zip(net.names, net.layers):
        f, b = timing.get((id(layer), "forward"), 0.0), timing.get((id(layer), "backward"), 0.0)
        print(f"| {layer_name} ({layer.describe()}) | {f:.3f} | {b:.3f} | {100 * (f + b) / total:.1f}% |")
    rest = total - sum(timing.values())
    print(f"| everything else (loss, optimizer, batching, prediction) | | | {100 * rest / total:.1f}% |")
    prof = cProfile.Profile()
    prof.enable()
    fit_nncli(d, epochs, args.conv2_padding, threads)
    prof.disable()
    print("\ncProfile, by own time:\n```")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    print("```")


# ------------------------------------------------------------------ report
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3, --quick 1)")
    p.add_argument("--workloads", default="digits,synthetic", help="comma-separated: digits, synthetic")
    p.add_argument("--epochs", type=int, default=None, help="override every workload's epochs")
    p.add_argument("--quick", action="store_true", help="1 repeat and 1-2 epochs: a smoke test")
    p.add_argument("--conv2-padding", default="valid", choices=["valid", "same"])
    p.add_argument("--threads", default="auto,1",
                   help="nncli's BLAS threads, comma-separated: auto (nncli's own choice) or numbers; "
                        "one nncli row each")
    p.add_argument("--torch-threads", default="2",
                   help="PyTorch's threads, comma-separated; the bar compares with the first")
    p.add_argument("--profile", metavar="WORKLOAD", help="profile nncli on one workload instead")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        contender, data_file, epochs, args.conv2_padding, args.threads = args.child
        child(contender, data_file, int(epochs), args.conv2_padding, args.threads)
        return
    if args.profile:
        if any(k in os.environ for k in PINNED):  # profile under the children's environment
            env = {k: v for k, v in os.environ.items() if k not in PINNED}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
            sys.exit(subprocess.run([sys.executable, *sys.argv], env=env, check=False).returncode)
        sys.path.insert(0, str(REPO))
        profile(args.profile, args)
        return
    names = args.workloads.split(",")
    repeats = args.repeats or (1 if args.quick else 3)
    contenders = [f"nncli threads={t}" for t in args.threads.split(",")] + \
        [f"pytorch threads={t}" for t in args.torch_threads.split(",")]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        files, epochs = {}, {}
        for name in names:
            files[name] = Path(tmp) / f"{name}.npz"
            np.savez(files[name], **make_data(name))
            epochs[name] = args.epochs or EPOCHS[name][1 if args.quick else 0]
        for r in range(repeats):
            for name in names:
                order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]  # rotate who goes first
                for c in order:
                    print(f"repeat {r + 1}/{repeats}: {c} on {name}", file=sys.stderr)
                    results.setdefault((name, c), []).append(measure(c, files[name], epochs[name], args))
    report(names, contenders, results, epochs, args)


def report(names, contenders, results, epochs, args) -> None:
    print(f"# nncli CNN vs PyTorch (conv2 padding: {args.conv2_padding})\n")
    print("| workload | contender | epochs | fit s (median) | fit s (min-max) | nncli / pytorch (first) "
          "| CPU s (median) | test accuracy | other load (cores) |\n" + "|---" * 9 + "|")
    verdicts, seen = [], {}
    reference = next(c for c in contenders if c.startswith("pytorch"))
    for name in names:
        runs = {c: [o for o in results.get((name, c), []) if o] for c in contenders}
        med = {c: statistics.median(o["fit"] for o in r) if r else None for c, r in runs.items()}
        for c in contenders:
            r, fits = runs[c], [o["fit"] for o in runs[c]]
            ratio = med[c] / med[reference] if c.startswith("nncli") and med[c] and med[reference] else None
            acc = statistics.median(o["accuracy"] for o in r) if r else None
            load = statistics.median(o["others"] for o in r) if r else None
            cpu = statistics.median(o["cpu"] for o in r) if r else None
            print(f"| {name} | {c} | {epochs[name]} | {_f(med[c])} | "
                  f"{(f'{min(fits):.3f}-{max(fits):.3f}') if fits else 'n/a'} | {_f(ratio, '.2f')} | "
                  f"{_f(cpu)} | {_f(acc, '.4f')} | {_f(load, '.2f')} |")
            if ratio is not None:
                verdicts.append(f"- {name}, {c}: {ratio:.2f}x the fit time of {reference}: "
                                f"{'PASS' if ratio <= BAR else 'FAIL'} (bar: at most {BAR}x)")
            if r:
                seen[(name, c)] = (r[-1]["blas"], r[-1]["threads"], r[-1]["pinned"])
    print("\n" + "\n".join(verdicts))
    print("\nThread pools threadpoolctl sees in each child (last repeat), and the BLAS threads nncli used:\n")
    for (name, c), (libs, threads, pinned) in seen.items():
        note = f"; still set: {', '.join(pinned)}" if pinned else f"; {' and '.join(PINNED)} unset"
        used = f"; nncli BLAS threads: {threads or 'library default'}" if c.startswith("nncli") else \
            f"; torch threads: {threads}"
        print(f"- {name} / {c}: {'; '.join(libs) or 'none'}{used}{note}")


def _f(v, spec=".3f") -> str:
    return "n/a" if v is None else format(v, spec)


if __name__ == "__main__":
    main()
