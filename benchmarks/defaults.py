"""nncli's defaults against scikit-learn's on the built-in datasets: does a config that sets only
``data.dataset`` score as well as ``MLPClassifier()`` / ``MLPRegressor()``?

    python benchmarks/defaults.py [--seeds 5] [--datasets digits,iris,...]

For each dataset and seed, nncli trains the default config (``data.dataset`` and ``seed``, nothing
else) through the same path as ``nncli train``; scikit-learn's estimators, with every default, fit
the same rows nncli may use (its training and validation splits: nncli holds out the validation
split for early stopping, scikit-learn's default does not hold anything out) and both are scored
on nncli's test split. scikit-learn is also shown behind a ``StandardScaler`` (nncli scales the
features by default; a bare ``MLPClassifier`` does not). The bar: nncli's mean test score over
the seeds at least scikit-learn's bare mean minus 0.5 points of accuracy (0.005 of R^2).

The table (Markdown) goes to stdout, progress to stderr; the exit code is 1 when a bar is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes", "make_moons", "make_circles")
TOLERANCE = 0.005  # 0.5 points of accuracy, or 0.005 of R^2


def _config(dataset: str, seed: int, overrides=()):
    from nncli.config import load_config

    return load_config("-", [*overrides], text=f"data: {{dataset: {dataset}}}\nseed: {seed}\n")


def nncli_score(dataset: str, seed: int, runs_dir: Path) -> tuple[float, int, float]:
    """(test score, epochs run, seconds) of the default config, trained as `nncli train` does."""
    from nncli import runner

    t0 = time.perf_counter()
    _, summary = runner.train(_config(dataset, seed), runs_dir=runs_dir)
    metric = "accuracy" if summary["task"] == "classification" else "r2"
    return summary["final"]["test"][metric], summary["epochs_run"], time.perf_counter() - t0


def sklearn_score(dataset: str, seed: int, scaled: bool) -> tuple[float, float]:
    """(test score, seconds) of scikit-learn's default MLP on nncli's split of this seed."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nncli.build import load_data

    ds = load_data(_config(dataset, seed, ["data.scaling=none"]))  # the raw features, same rows
    X = np.concatenate([ds.X_train, ds.X_val]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_val])
    y_test = ds.y_test
    if ds.task == "regression":
        y, y_test = y.ravel(), y_test.ravel()
    est = (MLPClassifier if ds.task == "classification" else MLPRegressor)(random_state=seed)
    if scaled:
        est = make_pipeline(StandardScaler(), est)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is part of the default
        est.fit(X, y)
    return float(est.score(ds.X_test.astype(np.float64), y_test)), time.perf_counter() - t0


def compare(dataset: str, seeds: int = 5, log=lambda msg: None) -> dict:
    """Scores per seed for nncli and both scikit-learn baselines, with the means and the bar."""
    rows = {"nncli": [], "epochs": [], "nncli_s": [], "sklearn": [], "sklearn_scaled": [], "sklearn_s": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            score, epochs, secs = nncli_score(dataset, seed, Path(tmp))
            rows["nncli"].append(score)
            rows["epochs"].append(epochs)
            rows["nncli_s"].append(secs)
            bare, secs = sklearn_score(dataset, seed, scaled=False)
            rows["sklearn"].append(bare)
            rows["sklearn_s"].append(secs)
            rows["sklearn_scaled"].append(sklearn_score(dataset, seed, scaled=True)[0])
            log(f"{dataset} seed {seed}: nncli {score:.4f} ({epochs} epochs), scikit-learn {bare:.4f}, "
                f"scaled {rows['sklearn_scaled'][-1]:.4f}")
    means = {k: statistics.fmean(v) for k, v in rows.items()}
    means["passed"] = means["nncli"] >= means["sklearn"] - TOLERANCE
    return {"dataset": dataset, "per_seed": rows, **means}


def table(results: list[dict], seeds: int) -> str:
    lines = [f"Mean test score over {seeds} seeds (accuracy, or R^2 for diabetes); bar: nncli >= "
             f"scikit-learn's MLP() - {TOLERANCE}.", "",
             "| dataset | nncli defaults | epochs run | scikit-learn MLP() | StandardScaler + MLP() "
             "| nncli - MLP() | bar | nncli s/run | MLP() s/fit |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        spread = statistics.pstdev(r["per_seed"]["nncli"])
        lines.append(f"| {r['dataset']} | {r['nncli']:.4f} ± {spread:.4f} | {r['epochs']:.0f} | "
                     f"{r['sklearn']:.4f} | {r['sklearn_scaled']:.4f} | {r['nncli'] - r['sklearn']:+.4f} | "
                     f"{'ok' if r['passed'] else 'MISSED'} | {r['nncli_s']:.2f} | {r['sklearn_s']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    results = []
    with threadpool_limits(1, user_api="blas"):  # small networks: one thread each, no contention
        for name in args.datasets.split(","):
            results.append(compare(name, args.seeds, log=lambda m: print(m, file=sys.stderr, flush=True)))
    print(table(results, args.seeds))
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
