"""What runs inside one fresh child process: a fit, a GEMM rate or a profile, printed as one
JSON line on stdout together with the BLAS kernels the child saw."""

from __future__ import annotations

import gc
import itertools
import json
import os
import statistics
import time

import numpy as np

from suite.contenders import CONTENDERS
from suite.workloads import WORKLOADS, score


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


class Clock:
    """Wall time of a with-block and nothing else (no collection, no memory): for profiling."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds, self.extra = time.perf_counter() - self.t0, None


def kernels() -> list[dict]:
    """The BLAS and OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: p.get(k) for k in keys} for p in threadpool_info()]


def _load(data_file: str) -> dict:
    with np.load(data_file, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def fit(contender: str, workload: str, data_file: str, epochs: int) -> dict:
    """Warm up on a sliver of the data, then fit once: time, memory, score and extras."""
    d, w, c = _load(data_file), WORKLOADS[workload], CONTENDERS[contender]
    fn = c.fit_function(w.kind)
    fn(w, {k: v[:256] for k, v in d.items()}, 1, Meter())
    meter = Meter()
    pred, extra = fn(w, d, epochs, meter)
    return {"fit": meter.seconds, "mem": meter.extra, "score": score(w.task, pred, d["yte"]), **extra}


def gemm(workload: str, data_file: str, seconds: float = 0.2, rounds: int = 8) -> dict:
    """float32 FLOP/s of np.matmul at the workload's shapes: per layer x@W, x.T@dz and dz@W.T.

    The median of several rounds (the first warms up the thread pool), with the kernels the
    fits see, since it runs in a child like them.
    """
    d, w = _load(data_file), WORKLOADS[workload]
    dims = [d["Xtr"].shape[1], *w.hidden, int(d["ytr"].max()) + 1 if w.classification else 1]
    rng, shapes, batch = np.random.default_rng(0), list(itertools.pairwise(dims)), w.batch
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
    return {"gemm": statistics.median(rates[1:])}


def profile(workload: str, data_file: str, epochs: int, top: int = 15) -> dict:
    """cProfile of the nncli core fit (after the same warm-up): the functions with the most
    time of their own."""
    import cProfile
    import pstats

    d, w = _load(data_file), WORKLOADS[workload]
    fn = CONTENDERS["nncli core"].fit_function(w.kind)
    fn(w, {k: v[:256] for k, v in d.items()}, 1, Clock())
    prof, meter = cProfile.Profile(), Clock()
    gc.collect()
    prof.enable()
    fn(w, d, epochs, meter)
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        where = func if path == "~" else f"{os.path.basename(path)}:{line}({func})"
        rows.append({"function": where, "calls": ncalls, "tottime": tottime, "cumtime": cumtime})
    rows.sort(key=lambda r: -r["tottime"])
    return {"fit": meter.seconds, "total": stats.total_tt, "top": rows[:top]}


def main(spec: dict) -> None:
    if spec["mode"] == "fit":
        out = fit(spec["contender"], spec["workload"], spec["data"], spec["epochs"])
    elif spec["mode"] == "gemm":
        out = gemm(spec["workload"], spec["data"])
    else:
        out = profile(spec["workload"], spec["data"], spec["epochs"])
    import nncli

    out.update(kernels=kernels(), nncli=os.path.dirname(nncli.__file__),
               pins={k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")})
    print(json.dumps(out))
