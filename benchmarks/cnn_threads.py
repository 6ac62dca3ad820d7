"""One BLAS thread against two for convolutional networks: the training step's time per batch.

    python benchmarks/cnn_threads.py              # configs/digits_cnn.yaml's network on digits, and
                                                  # conv 16/32 on 28x28 random images
    python benchmarks/cnn_threads.py --repeats 5

Each case trains batches of 64 (forward, backward, Adam step) for one pass over its data with
threadpoolctl limiting BLAS to 1 and then 2 threads, alternating, and reports the best pass per
batch with its CPU time and the machine's load average (other processes' work slows threaded
BLAS the most). This is what ``nncli.blas.SMALL_CONV_GEMM`` was chosen from. It runs in this
process with the environment as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def step_time(net, loss, opt, X, y, threads: int) -> tuple[float, float]:
    """(wall, CPU) seconds per batch of 64 over X."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        t, c = time.perf_counter(), time.process_time()
        n = 0
        for i in range(0, len(X) - 63, 64):
            out = net.forward(X[i:i + 64], True)
            loss.forward(out, y[i:i + 64])
            net.backward(loss.backward())
            opt.step()
            n += 1
        return (time.perf_counter() - t) / n, (time.process_time() - c) / n


def cases():
    from nncli.build import build, load_data
    from nncli.config import load_config
    from nncli.nn import make_loss, make_optimizer
    from nncli.nn.sequential import build_sequential

    cfg = load_config(REPO / "configs" / "digits_cnn.yaml")
    ds = load_data(cfg)
    parts = build(cfg, ds)
    yield "configs/digits_cnn.yaml", parts.net, parts.trainer.loss, parts.trainer.optimizer, ds.X_train, ds.y_train
    specs = [("conv2d", {"filters": 16, "kernel": 3, "padding": "same"}), ("activation", {"name": "relu"}),
             ("maxpool2d", {"pool": 2}), ("conv2d", {"filters": 32, "kernel": 3}), ("activation", {"name": "relu"}),
             ("maxpool2d", {"pool": 2}), ("flatten", {}), ("dense", {"units": 64}), ("activation", {"name": "relu"})]
    net = build_sequential((1, 28, 28), specs, 10)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1280, 1, 28, 28)).astype(np.float32)
    yield "conv 16/32 on 28x28", net, make_loss("cross_entropy"), make_optimizer("adam", net, lr=1e-3), X, \
        rng.integers(0, 10, len(X))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print("| network | largest product (multiply-adds per batch) | 1 thread ms/batch (CPU) | "
          "2 threads ms/batch (CPU) | load average |")
    print("|---|---|---|---|---|")
    for name, net, loss, opt, X, y in cases():
        widest = max(layer.macs() for layer in net.layers) * 64
        best: dict[int, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for threads in (1, 2):
                w, c = step_time(net, loss, opt, X, y, threads)
                best[threads] = min(best.get(threads, (w, c)), (w, c))
        (w1, c1), (w2, c2) = best[1], best[2]
        print(f"| {name} | {widest / 1e6:.0f}M | {w1 * 1e3:.1f} ({c1 * 1e3:.1f}) | {w2 * 1e3:.1f} ({c2 * 1e3:.1f}) | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
