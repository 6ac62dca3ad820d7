"""scikit-learn's MLPClassifier / MLPRegressor with the same network, optimizer and epochs."""

from __future__ import annotations

import warnings

from suite.workloads import Workload


def fit_mlp(w: Workload, d: dict, epochs: int, meter):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kw = {"hidden_layer_sizes": w.hidden, "activation": w.activation, "solver": w.solver,
          "learning_rate_init": w.lr, "batch_size": w.batch, "max_iter": epochs, "tol": 0.0,
          "n_iter_no_change": epochs + 1, "early_stopping": False, "alpha": 0.0, "shuffle": True,
          "random_state": 0}
    if w.solver == "sgd":
        kw.update(momentum=0.9, nesterovs_momentum=False, learning_rate="constant")
    cls = MLPClassifier if w.classification else MLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with meter:
            est = cls(**kw).fit(d["Xtr"], d["ytr"])
    return est.predict(d["Xte"]), {}
