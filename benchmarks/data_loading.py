"""Data loading: nncli against pandas.read_csv on the same 200,000 x 50 numeric CSV.

    python benchmarks/data_loading.py [--rows 200000] [--cols 50] [--repeats 3]

Writes the CSV (about 90 MB) into a temporary directory, then alternates, each in a fresh child
process with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment:
- ``pandas``: ``pandas.read_csv`` of the file (pandas imported before the clock starts);
- ``nncli train``: the whole command on the file (1 epoch), reporting the ``timings.data`` of
  its summary (reading, fingerprint, split, encoding and scaling; imports are counted apart)
  and the child's peak RSS from ``os.wait4``;
- ``nncli load``: ``build.load_data`` alone, reporting the peak RSS while loading minus the RSS
  before it, against the size of the final float32 matrix (rows x features x 4 bytes).
Prints medians and the ratios the bars are about: data loading <= 1.5x pandas.read_csv, the
whole train process < 1 GB, loading peak <= about 3x the float32 matrix; and the CPU time of
both (all threads), which says more than wall time on a machine that others share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PANDAS = textwrap.dedent("""\
    import sys, time, json, pandas
    c = time.process_time(); t = time.perf_counter(); df = pandas.read_csv(sys.argv[1])
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"seconds": dt, "cpu": dc, "shape": list(df.shape)}))
    """)

LOAD = textwrap.dedent("""\
    import sys, json, resource, time
    from nncli.config import load_config
    from nncli.build import load_data
    import numpy, sklearn.model_selection, pyarrow.csv  # imports first: only loading is measured
    def rss_now():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    def peak_rss():  # VmHWM: ru_maxrss also counts the parent's memory at the fork before exec
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    cfg = load_config(sys.argv[1])
    before = rss_now()
    c = time.process_time(); t = time.perf_counter(); ds = load_data(cfg)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    peak = peak_rss()
    from threadpoolctl import threadpool_info
    kernels = sorted({i.get("architecture") or "?" for i in threadpool_info() if i.get("internal_api") == "openblas"})
    n = len(ds.X_train) + len(ds.X_val) + len(ds.X_test)
    print(json.dumps({"seconds": dt, "cpu": dc, "peak_growth": peak - before, "rows": n,
                      "features": ds.X_train.shape[1], "kernels": kernels}))
    """)


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run(args: list[str]) -> tuple[dict | str, int]:
    """(stdout parsed as JSON, peak RSS in bytes) of a child process."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(), cwd=ROOT)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:3]} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return json.loads(out), usage.ru_maxrss * 1024


def write_csv(path: Path, rows: int, cols: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(cols)] + ["label"]) + "\n")
        for start in range(0, rows, 20_000):
            n = min(20_000, rows - start)
            X = rng.normal(size=(n, cols)) * rng.uniform(0.5, 50, size=cols)
            y = (X[:, 0] + X[:, 1] > 0).astype(int)
            np.savetxt(f, np.column_stack([X, y]), delimiter=",", fmt=["%.6g"] * cols + ["%d"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--cols", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "numbers.csv"
        write_csv(data, a.rows, a.cols)
        cfg = tmp / "numbers.yaml"
        cfg.write_text(f"data: {{path: {data}, label: label}}\ntraining: {{epochs: 1}}\n")
        (tmp / "read_pandas.py").write_text(PANDAS)
        (tmp / "load_nncli.py").write_text(LOAD)
        size = data.stat().st_size
        print(f"{data.name}: {a.rows} x {a.cols} numbers + a label, {size / 1e6:.1f} MB; "
              f"children run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE")
        pandas_s, data_s, train_rss, load_s, growth, pandas_cpu, load_cpu = [], [], [], [], [], [], []
        kernels = []
        for i in range(a.repeats):
            got, _ = run([str(tmp / "read_pandas.py"), str(data)])
            pandas_s.append(got["seconds"])
            pandas_cpu.append(got["cpu"])
            summary, rss = run(["-m", "nncli", "train", str(cfg), "--runs-dir", str(tmp / "runs"), "--quiet", "--json"])
            data_s.append(summary["timings"]["data"])
            train_rss.append(rss)
            got, _ = run([str(tmp / "load_nncli.py"), str(cfg)])
            load_s.append(got["seconds"])
            load_cpu.append(got["cpu"])
            growth.append(got["peak_growth"])
            kernels = got["kernels"]
            matrix = got["rows"] * got["features"] * 4
            print(f"  round {i + 1}: pandas.read_csv {pandas_s[-1]:.3f} s | nncli train timings.data "
                  f"{data_s[-1]:.3f} s, peak RSS {rss / 2**20:.0f} MiB | load_data {load_s[-1]:.3f} s, "
                  f"peak growth {growth[-1] / 2**20:.0f} MiB")
        med = statistics.median
        ratio = med(data_s) / med(pandas_s)
        print(f"\nmedians of {a.repeats}: pandas.read_csv {med(pandas_s):.3f} s; nncli data loading "
              f"{med(data_s):.3f} s ({ratio:.2f}x pandas; bar <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")
        print(f"CPU time (all threads), less sensitive to other load on the machine: pandas.read_csv "
              f"{med(pandas_cpu):.3f} s, nncli load_data {med(load_cpu):.3f} s "
              f"({med(load_cpu) / med(pandas_cpu):.2f}x)")
        rss = med(train_rss)
        print(f"nncli train peak RSS {rss / 2**20:.0f} MiB (bar < 1024 MiB: {'met' if rss < 2**30 else 'NOT met'})")
        g = med(growth) / matrix
        print(f"peak growth while loading {med(growth) / 2**20:.0f} MiB = {g:.2f}x the final float32 matrix "
              f"({matrix / 2**20:.0f} MiB; bar about 3x: {'met' if g <= 3.3 else 'NOT met'})")
        print(f"BLAS kernels in the children: {', '.join(kernels) or 'none reported'}")


if __name__ == "__main__":
    main()
