"""The Markdown report: the results table, the kernels the children saw, JAX with and without
compilation, where nncli's time goes, and the bars (label, value, passed or None for n/a)."""

from __future__ import annotations

import statistics
from pathlib import Path

from suite.contenders import NO_VAL, rows

MIB = 2**20
# contender row time / nncli core time must reach these: nncli <= 0.5x scikit-learn on digits, ...
SPEED_BARS = {("scikit-learn", "digits"): 2.0, ("scikit-learn", "regression"): 2.0,
              ("scikit-learn", "large"): 1 / 0.7, ("pytorch", "digits"): 1 / 0.3,
              ("pytorch", "regression"): 1 / 0.3, ("pytorch", "large"): 1 / 0.7,
              **{("jax, incl. compile", w): 1.0 for w in ("digits", "large", "regression")}}
SCORE_TOL = 0.005  # 0.5 accuracy points, or 0.005 of R^2
SCORE_PEERS = ("nncli core", "scikit-learn", "pytorch")  # the best score nncli must come close to
MEM_SLACK = 32 * MIB


def fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def verdict(ok) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def medians(res: dict, name: str, contender: str) -> tuple[dict, dict]:
    """(values per result key over the repeats, their medians) of one contender on one workload."""
    outs = [o for o in res.get((name, contender), []) if o]
    keys = {k for o in outs for k, v in o.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    runs = {k: [o[k] for o in outs if o.get(k) is not None] for k in keys}
    return runs, {k: statistics.median(v) if v else None for k, v in runs.items()}


def table(names, contenders, res, info) -> list[tuple]:
    """Print the results table; return its bars."""
    bars = []
    print("| workload | contender | epochs | fit s (median) | fit s (min-max) | time / nncli core | bar "
          "| test score | extra peak MiB | GEMM % |\n" + "|---" * 10 + "|")
    for name in names:
        core = medians(res, name, "nncli core")[1]
        rate = info[name]["flops"] / info[name]["gemm"] if info[name].get("gemm") else None
        best = max((medians(res, name, c)[1].get("score") or 0 for c in SCORE_PEERS), default=0)
        for c in contenders:
            runs, med = medians(res, name, c)
            for label, key in rows(c).items():
                t, mark = med.get(key), ""
                ratio = t / core["fit"] if t and core.get("fit") else None
                if (label, name) in SPEED_BARS:
                    need = SPEED_BARS[(label, name)]
                    ok = None if ratio is None else ratio >= need
                    bars.append((f"{name}: time <= {1 / need:.2f}x {label}",
                                 f"{label} takes {fmt(ratio, '.2f')}x as long", ok))
                    mark = f">= {need:.2f} {verdict(ok)}"
                if c == "nncli core" and med.get("score") is not None:
                    ok = med["score"] >= best - SCORE_TOL
                    score_label = f"{name}: test score within {SCORE_TOL} of the best of {', '.join(SCORE_PEERS)} ({best:.4f})"
                    bars.append((score_label, f"{med['score']:.4f}", ok))
                    mark = f"within {SCORE_TOL} of best {verdict(ok)}"
                mem = "—" if med.get("mem") is None or key != "fit" else f"{med['mem'] / MIB:.1f}"
                gemm, fits = t and rate and 100 * rate / t, runs.get(key, [])
                spread = f"{min(fits):.3f}-{max(fits):.3f}" if fits else "n/a"
                print(f"| {name} | {label} | {info[name]['epochs']} | {fmt(t)} | {spread} | {fmt(ratio, '.2f')} "
                      f"| {mark} | {fmt(med.get('score'), '.4f')} | {mem} | {fmt(gemm, '.1f')} |")
        if name == "large" and core.get("fit"):
            g, limit = rate and 100 * rate / core["fit"], info[name]["train_bytes"] + MEM_SLACK
            bars.append(("large: >= 50% of the np.matmul GEMM rate", f"{fmt(g, '.1f')}%", None if g is None else g >= 50))
            mem_label = f"large: extra peak memory <= training set ({info[name]['train_bytes'] / MIB:.1f} MiB) + 32 MiB"
            bars.append((f"{mem_label} = {limit / MIB:.1f} MiB", f"{fmt(core.get('mem') and core['mem'] / MIB, '.1f')} MiB",
                         None if core.get("mem") is None else core["mem"] <= limit))
        if name == "digits" and core.get("fit") and (name, NO_VAL) in res:
            with_val, without, val = core["fit"], medians(res, name, NO_VAL)[1].get("fit"), core.get("val")
            frac = val / with_val if val else None
            diff = 100 * (1 - without / with_val) if without else None
            value = (f"{fmt(frac and 100 * frac, '.1f')}% timed directly; {fmt(diff, '.1f')}% from "
                     f"{fmt(with_val)} s with vs {fmt(without)} s without")
            bars.append(("digits: validation + metrics <= 10% of the fit", value, None if frac is None else frac <= 0.10))
    return bars


def describe_kernels(kernels: list[dict]) -> str:
    blas = [f"{k['internal_api']} {k['version']} ({k.get('architecture')}, {k['num_threads']} threads, "
            f"{Path(k['filepath']).parent.name}/{Path(k['filepath']).name})"
            for k in kernels if k["user_api"] == "blas"]
    omp = [f"{k['internal_api']} ({k['num_threads']} threads)" for k in kernels if k["user_api"] == "openmp"]
    return "; ".join(sorted(blas) + omp) or "no BLAS loaded"


def kernel_section(groups: dict[str, list[dict]]) -> None:
    """One row per contender and distinct set of libraries its children reported."""
    print("| child | BLAS / OpenMP as threadpoolctl sees them after the work [the child's OPENBLAS_ variables] |\n"
          "|---|---|")
    for label, outs in groups.items():
        seen = set()
        for o in outs:
            if o and "kernels" in o:
                pins = ", ".join(f"{k}={v}" for k, v in sorted(o.get("pins", {}).items())) or "none"
                seen.add(f"{describe_kernels(o['kernels'])} [{pins}]")
        for line in sorted(seen):
            print(f"| {label} | {line} |")


def jax_section(names, res) -> list[str]:
    """Markdown lines on JAX (and Keras) with and without compilation, against nncli core; return
    the workloads where compiled JAX is faster than nncli."""
    faster = []
    print("| workload | nncli core s | JAX incl. compile s | JAX compiled s | compilation s | nncli / JAX compiled "
          "| Keras incl. compile s | Keras compiled s |\n" + "|---" * 8 + "|")
    for name in names:
        core = medians(res, name, "nncli core")[1].get("fit")
        j, k = medians(res, name, "jax")[1], medians(res, name, "keras")[1]
        warm = j.get("fit_warm")
        comp = j["fit"] - warm if j.get("fit") and warm else None
        print(f"| {name} | {fmt(core)} | {fmt(j.get('fit'))} | {fmt(warm)} | {fmt(comp)} "
              f"| {fmt(core / warm if core and warm else None, '.2f')} | {fmt(k.get('fit'))} | {fmt(k.get('fit_warm'))} |")
        if core and warm and warm < core:
            faster.append(name)
    return faster


def profile_section(name: str, prof: dict | None, core_fit: float | None) -> None:
    if not prof:
        print(f"\nProfile of nncli core on {name}: n/a (the profiling child failed)")
        return
    print(f"\n#### Where nncli core's time goes on {name}\n\ncProfile of one fit in a child: {prof['fit']:.3f} s "
          f"under the profiler ({fmt(core_fit)} s without it); functions by time of their own:\n")
    print("| function | calls | own s | own % | cumulative s |\n|---|---|---|---|---|")
    for r in prof["top"]:
        print(f"| `{r['function']}` | {r['calls']} | {r['tottime']:.3f} | {100 * r['tottime'] / prof['total']:.1f} "
              f"| {r['cumtime']:.3f} |")
