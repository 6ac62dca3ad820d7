"""The epoch/batch loop and its callbacks. No printing, no files.

``Trainer.fit`` runs epochs of mini-batches over a shuffled copy of the training set kept in
one reused buffer, validates once per epoch, keeps a history, applies the learning-rate
schedule, early stopping and the non-finite guard, and calls callbacks at batch and epoch
ends. ``state_dict()`` holds everything needed to continue later: a run stopped after any
batch and resumed from it ends bit-identical to one that never stopped. (How that state is
encoded in a file is the run store's business, not the loop's.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


class Diverged(ArithmeticError):
    """The training loss or the weights became non-finite."""

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class Callback:
    """Hooks. Setting ``trainer.stop_training = True`` makes ``fit`` return after the current
    batch without finishing: the trainer's state is then exactly where it stopped, ready to be
    saved and resumed."""

    def on_train_begin(self, trainer) -> None: ...

    def on_batch_end(self, trainer, epoch: int, batch: int) -> None: ...

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, trainer) -> None: ...


@dataclass
class EarlyStopping:
    monitor: str = "val_loss"  # a history key: val_loss, val_accuracy, val_r2, loss, ...
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True  # put the best epoch's weights back at the end (Keras's restore_best_weights)

    @property
    def mode(self) -> str:
        return "min" if self.monitor.endswith("loss") else "max"


def accuracy_counts(out, labels, threshold):
    """Number of correct predictions in a batch (out: logits, probabilities or values)."""
    if out.shape[1] == 1:
        return int(np.count_nonzero((out[:, 0] > threshold) == labels))
    return int(np.count_nonzero(out.argmax(axis=1) == labels))


class Trainer:
    def __init__(self, net, loss, optimizer, schedule=None, *, epochs: int = 10,
                 batch_size: int | None = 64, shuffle: bool = True, task: str = "classification",
                 l1: float = 0.0, l2: float = 0.0, clip_norm: float | None = None,
                 early_stopping: EarlyStopping | None = None, rng: np.random.Generator | None = None,
                 callbacks=()):
        self.net, self.loss, self.optimizer, self.schedule = net, loss, optimizer, schedule
        self.epochs, self.batch_size, self.shuffle, self.task = epochs, batch_size, shuffle, task
        self.l1, self.l2, self.clip_norm = l1, l2, clip_norm
        self.early_stopping = early_stopping
        self.rng = rng if rng is not None else np.random.default_rng(0)  # the shuffling stream
        self.callbacks = list(callbacks)
        self.metric_name = "accuracy" if task == "classification" else "r2"
        self.history: list[dict] = []
        self.epoch = 0  # the next epoch to run
        self.batch = 0  # the next batch of that epoch
        self.perm = None  # the epoch's order, kept so a mid-epoch resume replays it
        self.partial = [0.0, 0.0, 0]  # running loss sum, metric sum, samples of the epoch so far
        self.best = None  # (value, epoch, theta, buffers) of the best epoch by the monitor
        self.wait = 0
        self.stop_training = False  # set from outside (a callback, a signal): return after this batch
        self.stop_reason = None  # why training ended early on its own (early stopping)

    # ------------------------------------------------------------------ the story
    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None) -> list[dict]:
        """Train from the current position (epoch 0, or wherever a loaded state left off)."""
        # overflow on the way to divergence is not worth a warning: the guard reports it
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            data = self._training_arrays(X, y, sample_weight)
            val = None if X_val is None or not len(X_val) else (np.asarray(X_val, self.net.dtype),
                                                                self._targets(y_val))
            n = len(data["x"])
            bs = n if not self.batch_size else min(self.batch_size, n)
            self.n_batches = math.ceil(n / bs)
            if self.perm is not None and (len(self.perm) != n or not np.array_equal(np.sort(self.perm), np.arange(n))):
                raise ValueError(f"the saved batch order is not a permutation of the {n} training rows")
            # one reused buffer per array holds the shuffled training set; batches are views into it
            shuffled = {k: np.empty_like(a) for k, a in data.items()} if self.shuffle else data
            self.stop_training = False
            for cb in self.callbacks:
                cb.on_train_begin(self)

            while self.epoch < self.epochs and self.stop_reason is None:
                t0 = time.perf_counter()
                if self.batch == 0:
                    self._start_epoch(n)
                if self.shuffle:  # mode="clip": "raise" would copy the whole set to check the indices
                    for k, a in data.items():
                        np.take(a, self.perm, axis=0, out=shuffled[k], mode="clip")
                for b in range(self.batch, self.n_batches):
                    batch = {k: a[b * bs:(b + 1) * bs] for k, a in shuffled.items()}
                    self._train_batch(batch, b)
                    if self.stop_training:
                        return self.history
                self._end_epoch(data, val, time.perf_counter() - t0)
                if self.stop_training:
                    return self.history
            self._finish()
            return self.history

    def _start_epoch(self, n):
        self.partial = [0.0, 0.0, 0]
        if self.schedule is not None:
            last = self.history[-1] if self.history else {}
            self.optimizer.lr = self.schedule.rate(self.epoch, last.get("val_loss", last.get("loss")))
        self.perm = self.rng.permutation(n) if self.shuffle else None

    def _train_batch(self, batch, b):
        net = self.net
        out = net.forward(batch["x"], training=True)
        loss = self.loss.forward(out, batch["y"], batch.get("w"))
        net.backward(self.loss.backward())
        if self.l2 or self.l1:
            loss += self._penalty()
        if not math.isfinite(loss):
            raise Diverged(f"the training loss became {loss} at epoch {self.epoch + 1}, batch {b + 1}",
                           self.epoch + 1, b + 1)
        if self.clip_norm:
            self._clip()
        self.optimizer.step()
        self.partial[0] += loss * len(out)
        self.partial[1] += self._batch_metric(out, batch)
        self.partial[2] += len(out)
        self.batch = b + 1
        for cb in self.callbacks:
            cb.on_batch_end(self, self.epoch, b)

    def _end_epoch(self, data, val, seconds):
        if not np.isfinite(self.net.theta).all():
            raise Diverged(f"the weights became non-finite in epoch {self.epoch + 1}", self.epoch + 1, self.batch)
        total_loss, total_metric, seen = self.partial
        logs = {"epoch": self.epoch + 1, "loss": total_loss / seen}
        if self.task == "classification":
            logs["accuracy"] = total_metric / seen
        else:
            y = data["y"]
            sst = float(((y - y.mean(axis=0)) ** 2).sum())
            logs["r2"] = 1 - total_metric / sst if sst else 0.0
        if val is not None:
            v = self.evaluate(*val)
            logs["val_loss"], logs[f"val_{self.metric_name}"] = v["loss"], v[self.metric_name]
        logs["lr"] = float(self.optimizer.lr)
        logs.update(self.optimizer.logs())  # what the update rule itself learned (SWATS's SGD rate)
        logs["seconds"] = seconds
        self.history.append(logs)
        self.epoch, self.batch, self.perm = self.epoch + 1, 0, None
        self._track_best(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, self.epoch - 1, logs)

    def _finish(self):
        es = self.early_stopping
        if es and es.restore_best and self.best is not None:
            self.restore_best()
            if self.stop_reason:
                self.stop_reason += f"; restored the weights of epoch {self.best[1]}"
        for cb in self.callbacks:
            cb.on_train_end(self)

    # ------------------------------------------------------------------ the pieces
    def _penalty(self) -> float:
        """Add the L1/L2 gradients of the weights (never biases); return the penalty's value."""
        w, gw = self.net.weights
        value = 0.0
        if self.l2:
            value += 0.5 * self.l2 * float(np.dot(w, w))
            gw += self.l2 * w
        if self.l1:
            value += self.l1 * float(np.abs(w).sum())
            gw += self.l1 * np.sign(w)
        return value

    def _clip(self):
        """Scale the whole gradient down to norm ``clip_norm`` when it is longer."""
        _, g = self.net.trainable
        norm = math.sqrt(float(np.dot(g, g)))
        if norm > self.clip_norm:
            g *= self.clip_norm / norm

    def _batch_metric(self, out, batch) -> float:
        """Correct predictions (classification) or the squared error (regression) of a batch."""
        if "labels" in batch:
            return accuracy_counts(out, batch["labels"], self.loss.threshold)
        d = out - batch["y"]
        return float(np.vdot(d, d))

    def _track_best(self, logs):
        es = self.early_stopping
        monitor = es.monitor if es else ("val_loss" if "val_loss" in logs else "loss")
        value = logs.get(monitor)
        if value is None or not math.isfinite(value):
            return
        mode = "min" if monitor.endswith("loss") else "max"
        delta = es.min_delta if es else 0.0
        better = self.best is None or (
            value < self.best[0] - delta if mode == "min" else value > self.best[0] + delta)
        if better:
            buffers = {k: v for k, v in self.net.state_dict().items() if "running" in k}
            self.best = (value, logs["epoch"], self.net.theta.copy(), buffers)
            self.wait = 0
        else:
            self.wait += 1
            if es and self.wait >= es.patience:
                self.stop_reason = f"early stopping: {monitor} did not improve for {es.patience} epochs"

    def restore_best(self) -> None:
        """Put the best epoch's weights (by the monitor) back into the network."""
        if self.best is not None:
            self.net.theta[...] = self.best[2]
            for key, arr in self.best[3].items():
                name, buf = key.split(".", 1)
                self.net.layers[self.net.names.index(name)].buffers[buf][...] = arr

    def evaluate(self, X, y) -> dict:
        """Loss and metric on a dataset in evaluation mode."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            y = self._targets(y)
            out = self.net.predict(X)
            loss = self.loss.forward(out, y)
            if self.task == "classification":
                metric = accuracy_counts(out, self._labels(y), self.loss.threshold) / len(out)
            else:
                d = out - y
                sst = float(((y - y.mean(axis=0)) ** 2).sum())
                metric = 1 - float(np.vdot(d, d)) / sst if sst > 0 else 0.0
            return {"loss": loss, self.metric_name: metric}

    # ------------------------------------------------------------------ targets
    def _training_arrays(self, X, y, sample_weight) -> dict[str, np.ndarray]:
        data = {"x": np.ascontiguousarray(X, dtype=self.net.dtype), "y": self._targets(y)}
        if self.task == "classification":
            data["labels"] = self._labels(data["y"])
        if sample_weight is not None:
            data["w"] = np.asarray(sample_weight, self.net.dtype)
        return data

    def _targets(self, y):
        y = np.asarray(y)
        if self.task == "regression" or y.ndim == 2:
            y = y.astype(self.net.dtype, copy=False)
            return y.reshape(len(y), -1)
        if self.loss.fused_head == "softmax":
            return y.astype(np.intp, copy=False)
        return y.astype(self.net.dtype).reshape(-1, 1)  # binary 0/1 in one column

    @staticmethod
    def _labels(y):
        if y.ndim == 1:
            return y
        return (y[:, 0] > 0.5) if y.shape[1] == 1 else y.argmax(axis=1)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything to continue exactly: weights, optimizer, schedule, every random stream,
        position, history and the best epoch so far. Arrays and plain values, nested by part."""
        trainer = {"epoch": self.epoch, "batch": self.batch, "partial": list(self.partial),
                   "wait": self.wait, "stop_reason": self.stop_reason,
                   "rng": self.rng.bit_generator.state, "layer_rng": self.net.random_state(),
                   "perm": self.perm, "best": None}
        if self.best is not None:
            value, epoch, theta, buffers = self.best
            trainer["best"] = {"value": value, "epoch": epoch, "theta": theta, "buffers": buffers}
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict() if self.schedule is not None else {},
                "trainer": trainer, "history": [dict(row) for row in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        t = state["trainer"]
        self.epoch, self.batch, self.wait = int(t["epoch"]), int(t["batch"]), int(t["wait"])
        self.partial = list(t["partial"])
        self.stop_reason = t["stop_reason"]  # early stopping may have fired at the saved epoch
        self.rng.bit_generator.state = t["rng"]
        self.net.set_random_state(t["layer_rng"])
        self.perm = None if t["perm"] is None else np.asarray(t["perm"])
        if self.perm is not None and (self.perm.shape != (self.perm.size,) or self.perm.dtype.kind not in "iu"):
            raise ValueError(f"the saved permutation has shape {self.perm.shape} and dtype {self.perm.dtype}")
        best = t["best"]
        self.best = None if best is None else (
            float(best["value"]), int(best["epoch"]), np.array(best["theta"], self.net.dtype),
            {k: np.array(v) for k, v in best["buffers"].items()})
        self.history = [dict(row) for row in state["history"]]
