"""nncli's numeric core, as a program using the library would call it."""

from __future__ import annotations

import time

import numpy as np

from suite.workloads import Workload, n_outputs


def fit_mlp(w: Workload, d: dict, epochs: int, meter, validate: bool = True) -> tuple[np.ndarray, dict]:
    import nncli.blas
    from nncli.nn import Trainer, build_mlp, make_loss, make_optimizer

    with meter:
        net = build_mlp(d["Xtr"].shape[1], list(w.hidden), n_outputs(w, d), activation=w.activation,
                        init="xavier_uniform", dtype=np.float32, seed=0)
        opt = (make_optimizer("adam", net, lr=w.nncli_lr) if w.solver == "adam"
               else make_optimizer("sgd", net, lr=w.nncli_lr, momentum=0.9))
        tr = Trainer(net, make_loss("cross_entropy" if w.classification else "mse"), opt, epochs=epochs,
                     batch_size=w.batch, task=w.task, rng=np.random.default_rng(0))
        threads = nncli.blas.fit_threads(net, w.batch, len(d["Xtr"]))
        with nncli.blas.limit(threads):
            tr.fit(d["Xtr"], d["ytr"], *((d["Xte"], d["yte"]) if validate else ()))
    extra = {"blas_threads": threads or "default"}
    if validate:  # the per-epoch validation pass (loss and metric), timed on its own
        t0 = time.perf_counter()
        with nncli.blas.limit(threads):
            for _ in range(5):
                tr.evaluate(d["Xte"], d["yte"])
        extra["val"] = epochs * (time.perf_counter() - t0) / 5
    out = net.predict(d["Xte"])
    return (out.argmax(axis=1) if w.classification else out[:, 0]), extra


def fit_mlp_no_validation(w, d, epochs, meter):
    return fit_mlp(w, d, epochs, meter, validate=False)
