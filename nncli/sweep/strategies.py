"""How trials are chosen: a grid, random samples, Optuna's TPE (ask and tell), and the rungs of
successive halving. Pure planning: nothing here trains or writes.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from dataclasses import dataclass

from nncli.errors import UsageError
from nncli.sweep.space import IntRange, Uniform, Values

STRATEGIES = ("grid", "random", "tpe", "halving")


def grid(space: dict) -> list[dict]:
    """Every combination, the last key varying fastest (as Hydra and itertools order them)."""
    keys = list(space)
    axes = []
    for key in keys:
        try:
            axes.append(space[key].grid())
        except ValueError as e:
            raise UsageError(f"{key}={space[key].text()} is {e} and has no grid; give a list of values, or "
                             "sample it with --strategy random|tpe|halving --trials N") from None
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes)]


def grid_size(space: dict) -> int | None:
    """The number of combinations, or None when a key is a continuous range."""
    if not all(isinstance(d, Values) for d in space.values()):
        return None
    return math.prod(len(d.values) for d in space.values())


def sample(space: dict, n: int, seed: int) -> list[dict]:
    """``n`` random trials; over a grid of values only, distinct combinations without replacement."""
    import numpy as np

    rng = np.random.default_rng(seed)
    size = grid_size(space)
    if size is not None:
        if n > size:
            raise UsageError(f"--trials {n}: the space has only {size} combinations; run them all with "
                             "--strategy grid, or ask for fewer trials")
        combos = grid(space)
        return [combos[i] for i in sorted(rng.choice(size, n, replace=False), key=int)] if n < size else combos
    return [{k: d.sample(rng) for k, d in space.items()} for _ in range(n)]


# ---------------------------------------------------------------- successive halving
@dataclass(frozen=True)
class Rung:
    epochs: int  # every trial of the rung has trained this many epochs at its end
    keep: int  # how many trials the rung trains


def rungs(n: int, epochs: int, eta: int, min_epochs: int | None) -> list[Rung]:
    """Successive halving's rungs (Jamieson and Talwalkar 2016; Ray Tune's and Optuna's
    halving): ``n`` trials train ``epochs / eta**k`` epochs, the best ``n / eta`` of them
    continue to ``epochs / eta**(k-1)``, and so on until the last rung trains all ``epochs``.
    k is as large as ``min_epochs`` (>= 1) allows while the last rung keeps ``eta`` trials, so
    that the best is chosen among full runs, not named by a short one."""
    floor = min_epochs or 1
    if floor > epochs:
        raise UsageError(f"--min-epochs {floor}: more than training.epochs ({epochs})")
    k = 0
    while n // eta ** (k + 1) >= eta and epochs / eta ** (k + 1) >= floor:
        k += 1
    out = []
    for i in range(k, -1, -1):
        e = max(floor, round(epochs / eta ** i)) if i else epochs
        out.append(Rung(e, n // eta ** (k - i)))
    return out


def halving_cost(plan: list[Rung]) -> int:
    """Epochs trained in all: each trial trains up to the last rung it reaches."""
    total, done = 0, 0
    for r in plan:
        total += r.keep * (r.epochs - done)
        done = r.epochs
    return total


# ---------------------------------------------------------------- TPE through Optuna
class TPE:
    """Optuna's TPE sampler through ask and tell; Optuna is imported only here."""

    def __init__(self, space: dict, seed: int, higher_is_better: bool, parallel: bool):
        try:
            import optuna
        except ImportError:
            raise UsageError('--strategy tpe needs Optuna: pip install "nncli[optuna]"') from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.space = space
        self.dists = {k: self._distribution(d) for k, d in space.items()}
        with warnings.catch_warnings():  # constant_liar is marked experimental
            warnings.simplefilter("ignore")
            # constant_liar: trials still running count as bad, so parallel asks spread out
            sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
        self.study = optuna.create_study(direction="maximize" if higher_is_better else "minimize",
                                         sampler=sampler)
        self.open: dict[str, object] = {}

    def _distribution(self, d):
        dist = self.optuna.distributions
        if isinstance(d, Values):  # choices as JSON text: Optuna takes only scalars as choices
            return dist.CategoricalDistribution([json.dumps(v) for v in d.values])
        if isinstance(d, IntRange):
            return dist.IntDistribution(d.low, d.high)
        assert isinstance(d, Uniform)
        return dist.FloatDistribution(d.low, d.high, log=d.log)

    def _encode(self, params: dict) -> dict:
        return {k: json.dumps(v) if isinstance(self.space[k], Values) else v for k, v in params.items()}

    def ask(self, trial_id: str) -> dict:
        trial = self.study.ask(self.dists)
        self.open[trial_id] = trial
        return {k: json.loads(v) if isinstance(self.space[k], Values) else v for k, v in trial.params.items()}

    def tell(self, trial_id: str, score: float | None) -> None:
        trial = self.open.pop(trial_id, None)
        if trial is None:
            return
        state = self.optuna.trial.TrialState
        if score is None or not math.isfinite(score):
            self.study.tell(trial, state=state.FAIL)
        else:
            self.study.tell(trial, score)

    def add(self, params: dict, score: float | None) -> None:
        """A trial finished before this process started (a resumed sweep)."""
        state = self.optuna.trial.TrialState
        ok = score is not None and math.isfinite(score)
        self.study.add_trial(self.optuna.trial.create_trial(
            params=self._encode(params), distributions=self.dists,
            value=score if ok else None, state=state.COMPLETE if ok else state.FAIL))
