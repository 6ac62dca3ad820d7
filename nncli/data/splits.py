"""Train/validation/test splits: stratified for classification, seeded, reproducible."""

from __future__ import annotations

import numpy as np


def _split_seed(seed: int, stream: int) -> int:
    """A random_state for one split, derived from the seed (0: test, 1: validation)."""
    return int(np.random.SeedSequence([int(seed), stream]).generate_state(1)[0])


def _split(idx: np.ndarray, n_out: int, strat: np.ndarray | None, random_state: int):
    """(kept, taken out) index arrays; stratified when possible, else plain shuffled."""
    if n_out == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    if strat is not None:
        try:
            return train_test_split(idx, test_size=n_out, random_state=random_state,
                                    stratify=strat[idx])
        except ValueError:
            pass  # a class too small for stratification
    return train_test_split(idx, test_size=n_out, random_state=random_state)


def split_rows(labeled: np.ndarray, strat: np.ndarray | None, n_test: int, n_val: int, seed: int) -> dict:
    """{"train", "validation", "test"}: row numbers (among ``labeled``, the rows with a label),
    test taken out first, then validation; the same seed gives the same rows."""
    n = len(labeled)
    codes = None if strat is None else strat[labeled]
    rest, te = _split(np.arange(n), n_test, codes, _split_seed(seed, 0))
    tr, va = _split(rest, n_val, codes, _split_seed(seed, 1))
    # in file order: blocks of rows are then read from memory in one sweep
    return {"train": np.sort(labeled[tr]), "validation": np.sort(labeled[va]), "test": np.sort(labeled[te])}
