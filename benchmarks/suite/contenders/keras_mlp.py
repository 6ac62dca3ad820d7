"""Keras 3 on its JAX backend (KERAS_BACKEND=jax, set in the child's environment), used the
documented way: Sequential Dense layers, compile, fit with validation_data (it validates every
epoch, like nncli), default jit compilation and steps_per_execution."""

from __future__ import annotations

import time

from suite.workloads import Workload, n_outputs


def _model(w: Workload, d: dict):
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((d["Xtr"].shape[1],))]
    layers += [keras.layers.Dense(units, activation=w.activation, kernel_initializer="glorot_uniform",
                                  bias_initializer="zeros") for units in w.hidden]
    model = keras.Sequential([*layers, keras.layers.Dense(n_outputs(w, d), kernel_initializer="glorot_uniform")])
    if w.classification:
        model.compile(optimizer=keras.optimizers.Adam(w.lr, epsilon=1e-8), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    else:  # Keras's "mse" is mean((y-p)^2), like nncli's: half the rate, the same updates
        model.compile(optimizer=keras.optimizers.SGD(w.nncli_lr, momentum=0.9), loss="mse",
                      metrics=[keras.metrics.R2Score()])
    return model


def fit_mlp(w: Workload, d: dict, epochs: int, meter):
    import keras

    y, yv = (d["ytr"], d["yte"]) if w.classification else (d["ytr"][:, None], d["yte"][:, None])
    kw = {"batch_size": w.batch, "epochs": epochs, "validation_data": (d["Xte"], yv), "shuffle": True,
          "verbose": 0}
    with meter:  # the first fit compiles the training and validation steps
        model = _model(w, d)
        model.fit(d["Xtr"], y, **kw)
    out = model.predict(d["Xte"], batch_size=4096, verbose=0)
    t0 = time.perf_counter()  # the same number of epochs again on the compiled model
    model.fit(d["Xtr"], y, **kw)
    warm = time.perf_counter() - t0
    return (out.argmax(axis=1) if w.classification else out[:, 0]), {"fit_warm": warm,
                                                                     "keras": keras.__version__}
