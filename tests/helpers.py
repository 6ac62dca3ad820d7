"""Small helpers shared by test files: writing files, looking inside run directories, and an
experiment file that sets every key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# every key of the schema set away from its default (the optimizer and schedule sections: those
# of the names it chooses); loads, but is not meant to train
FULL = textwrap.dedent("""\
    name: digits-mlp.v2
    seed: 7
    description: "Two hidden layers on the digits dataset: a baseline."
    data:
      dataset: digits
      label: null
      features: [pixel_0_2, pixel_0_3, pixel_1_2, pixel_1_3]
      drop: [pixel_0_0]
      id: null
      weight: null
      types: {pixel_0_2: number}
      missing_values: ["?", ""]
      impute: median
      impute_categories: most_frequent
      missing_indicator: true
      max_categories: 20
      min_frequency: 2
      dates: drop
      delimiter: ";"
      params: {}
      task: classification
      target_scaling: none
      validation: 0.15
      test: 0.25
      scaling: minmax
      layout: nchw
      polynomial: 2
      subset: 500
    model:
      hidden: [64, 32]
      activation: [prelu, maxout]
      leaky_slope: 0.02
      maxout_pieces: 3
      init: normal
      init_scale: 0.05
      dropout: [0.1, 0.2]
      batch_norm: true
      bias: false
      output: softmax
      init_from: null
      freeze: 1
    loss:
      name: huber
      class_weight: balanced
      huber_delta: 2.0
    optimizer:
      name: adabound
      lr: 3e-4
      betas: [0.85, 0.99]
      eps: 1e-7
      weight_decay: 0.01
      final_lr: 0.05
      gamma: 0.002
      lookahead: {k: 6, alpha: 0.6}
      clip_norm: 5.0
      schedule:
        name: plateau
        patience: 4
        factor: 0.5
        threshold: 0.001
        min_lr: 1e-6
    regularization:
      l1: 0.0001
      l2: 0.001
    training:
      epochs: 12
      batch_size: full
      shuffle: false
      dtype: float64
      early_stopping:
        enabled: true
        monitor: val_accuracy
        patience: 3
        min_delta: 0.001
        restore_best: false
      checkpoint_every: 50
    baseline:
      error: 0.02
      loss: 0.05
    plots: false
    sweep:
      strategy: halving
      trials: 9
      seed: 3
      metric: val_loss
      eta: 2
      min_epochs: 2
      params:
        optimizer.lr: loguniform(1e-4, 1e-2)
        model.hidden: [[64, 32], [32, 16]]
    """)


NOT_WEIGHTS = ("meta", "config", "config_sha256")  # what a run's name or history changes in model.npz


def same_weights(a, b) -> bool:
    """Whether two runs' model.npz hold the same arrays (weights, preprocessing, classes)."""
    x, y = load_arrays(Path(a) / "model.npz"), load_arrays(Path(b) / "model.npz")
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x if k not in NOT_WEIGHTS)


# a small run with every kind of state a checkpoint carries (batch norm, dropout's RNG, a warm-up
# schedule): what the crash-safety tests interrupt, damage and resume
SMALL = """\
name: small
seed: 5
data: {dataset: digits, subset: 300, validation: 0.2, test: 0.2}
model: {hidden: [16, 8], dropout: 0.1, batch_norm: true}
optimizer: {name: adam, lr: 0.01, schedule: {name: cosine, warmup: 1}}
training: {epochs: 6, batch_size: 32}
"""


# a tiny classification run: three epochs of iris
IRIS = """\
name: iris
seed: 1
data: {dataset: iris, validation: 0.2, test: 0.2}
model: {hidden: [8]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 3, batch_size: 16}
"""
