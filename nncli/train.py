"""The epoch/batch loop and its callbacks. No printing, no files.

``Trainer.fit`` runs epochs of mini-batches over a shuffled copy of the training set kept
in one reused buffer, validates once per epoch, keeps a history, applies the learning-rate
schedule, early stopping and the non-finite guard, and calls callbacks at batch and epoch
ends. Everything needed to continue later is in ``state_dict()``: a run stopped after any
batch and resumed from it ends bit-identical to one that never stopped.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np

from nncli.errors import DivergedError


SMALL_GEMM = 4_000_000  # multiply-adds in a batch's largest product below which one BLAS thread is faster


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
                 callbacks=(), threads: int | None = None):
        self.net, self.loss, self.optimizer, self.schedule = net, loss, optimizer, schedule
        self.epochs, self.batch_size, self.shuffle, self.task = epochs, batch_size, shuffle, task
        self.l1, self.l2, self.clip_norm = l1, l2, clip_norm
        self.early_stopping = early_stopping
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.callbacks = list(callbacks)
        self.threads = threads  # BLAS threads while fitting; None: chosen from the layer sizes
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

    # ------------------------------------------------------------------ public
    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None) -> list[dict]:
        """Train from the current position (epoch 0, or wherever a loaded state left off)."""
        from threadpoolctl import threadpool_limits

        # overflow on the way to divergence is not worth a warning: the guard reports it
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                threadpool_limits(self._blas_threads(len(X)), user_api="blas"):
            return self._fit(X, y, X_val, y_val, sample_weight)

    def _blas_threads(self, n: int) -> int | None:
        """One BLAS thread when the largest matrix product of a batch is small: waking a second
        thread then costs more than it saves, and many runs at once would oversubscribe the
        cores. ``None`` leaves the BLAS default."""
        if self.threads is not None:
            return self.threads
        bs = min(self.batch_size or n, n)
        widest = max((layer.n_in * layer.n_out for layer in self.net.layers if hasattr(layer, "n_in")), default=0)
        return 1 if bs * widest < SMALL_GEMM else None

    def _fit(self, X, y, X_val, y_val, sample_weight):
        net = self.net
        data = {"x": np.ascontiguousarray(X, dtype=net.dtype), "y": self._targets(y)}
        n = len(data["x"])
        bs = n if not self.batch_size else min(self.batch_size, n)
        sst = None  # regression: total sum of squares, for the running R^2
        if self.task == "classification":
            data["labels"] = self._labels(data["y"])
        else:
            y = data["y"]
            sst = float(((y - y.mean(axis=0)) ** 2).sum())
        if sample_weight is not None:
            data["w"] = np.asarray(sample_weight, net.dtype)
        val = None
        if X_val is not None and len(X_val):
            val = (np.asarray(X_val, net.dtype), self._targets(y_val))
        # one reused buffer per array holds the shuffled training set; batches are views into it
        batches = {k: np.empty_like(a) for k, a in data.items()} if self.shuffle else data
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)

        n_batches = self.n_batches = math.ceil(n / bs)
        while self.epoch < self.epochs and self.stop_reason is None:
            epoch = self.epoch
            t0 = time.perf_counter()
            if self.batch == 0:
                self._start_epoch(epoch, n)
            if self.shuffle:  # mode="clip": "raise" would copy the whole set to check the indices
                for k, a in data.items():
                    np.take(a, self.perm, axis=0, out=batches[k], mode="clip")
            xs, ys, ws, ls = batches["x"], batches["y"], batches.get("w"), batches.get("labels")
            for b in range(self.batch, n_batches):
                lo, hi = b * bs, min((b + 1) * bs, n)
                out = self._step(xs[lo:hi], ys[lo:hi], None if ws is None else ws[lo:hi], epoch, b)
                if ls is not None:
                    self.partial[1] += accuracy_counts(out, ls[lo:hi], self.loss.threshold)
                else:
                    d = out - ys[lo:hi]
                    self.partial[1] += float(np.vdot(d, d))
                self.batch = b + 1
                for cb in self.callbacks:
                    cb.on_batch_end(self, epoch, b)
                if self.stop_training:
                    return self.history
            self._end_epoch(epoch, n, sst, val, time.perf_counter() - t0)
            if self.stop_training:
                return self.history
        self._finish()
        return self.history

    def evaluate(self, X, y) -> dict:
        """Loss and metric on a dataset in evaluation mode."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._evaluate(X, y)

    def _evaluate(self, X, y) -> dict:
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

    # ------------------------------------------------------------------ the loop
    def _start_epoch(self, epoch, n):
        self.partial = [0.0, 0.0, 0]
        if self.schedule is not None:
            last = self.history[-1] if self.history else {}
            metric = last.get("val_loss", last.get("loss"))
            self.optimizer.lr = self.schedule.rate(epoch, metric)
        self.perm = self.rng.permutation(n) if self.shuffle else None

    def _step(self, xb, yb, wb, epoch, b):
        net, opt = self.net, self.optimizer
        out = net.forward(xb, training=True)
        loss = self.loss.forward(out, yb, wb)
        net.backward(self.loss.backward())
        if self.l2 or self.l1:
            loss += self._penalty()
        if not math.isfinite(loss):
            raise DivergedError(f"the training loss became {loss} at epoch {epoch + 1}, batch {b + 1}",
                                epoch + 1, b + 1)
        if self.clip_norm:
            _, g = net.trainable
            norm = math.sqrt(float(np.dot(g, g)))
            if norm > self.clip_norm:
                g *= self.clip_norm / norm
        opt.step()
        self.partial[0] += loss * len(xb)
        self.partial[2] += len(xb)
        return out

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

    def _end_epoch(self, epoch, n, sst, val, seconds):
        if not np.isfinite(self.net.theta).all():
            raise DivergedError(f"the weights became non-finite in epoch {epoch + 1}", epoch + 1, self.batch)
        total_loss, total_metric, seen = self.partial
        logs = {"epoch": epoch + 1, "loss": total_loss / seen}
        if self.task == "classification":
            logs["accuracy"] = total_metric / seen
        else:
            logs["r2"] = 1 - total_metric / sst if sst else 0.0
        if val is not None:
            X_val, y_val = val
            v = self.evaluate(X_val, y_val)
            logs["val_loss"], logs[f"val_{self.metric_name}"] = v["loss"], v[self.metric_name]
        logs["lr"] = float(self.optimizer.lr)
        logs["seconds"] = seconds
        self.history.append(logs)
        self.epoch, self.batch, self.perm = epoch + 1, 0, None
        self._track_best(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)

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

    def _finish(self):
        if self.early_stopping and self.best is not None:
            self.restore_best()
            if self.stop_reason:
                self.stop_reason += f"; restored the weights of epoch {self.best[1]}"
        for cb in self.callbacks:
            cb.on_train_end(self)

    def restore_best(self) -> None:
        """Put the best epoch's weights (by the monitor) back into the network."""
        if self.best is not None:
            self.net.theta[...] = self.best[2]
            self.net.load_state_dict(self.best[3], strict=False)

    # ------------------------------------------------------------------ helpers
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
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything to continue exactly: weights, optimizer, schedule, RNG, position, history."""
        state = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        state.update({f"opt.{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.schedule is not None:
            state.update({f"sched.{k}": v for k, v in self.schedule.state_dict().items()})
        # the history as a number table: serialising it as text every epoch would cost more
        # than the epoch itself on small data
        columns = list(self.history[0]) if self.history else []
        state["trainer.history"] = np.array([[row.get(c, np.nan) for c in columns] for row in self.history],
                                            np.float64).reshape(len(self.history), len(columns))
        meta = {"epoch": self.epoch, "batch": self.batch, "partial": self.partial, "wait": self.wait,
                "rng": self.rng.bit_generator.state, "history_columns": columns,
                "best": None if self.best is None else [self.best[0], self.best[1]],
                "stop_reason": self.stop_reason}
        state["trainer.meta"] = np.array(json.dumps(meta))
        if self.perm is not None:
            state["trainer.perm"] = self.perm
        if self.best is not None:
            state["trainer.best_theta"] = self.best[2]
            state.update({f"trainer.best_buf.{k}": v for k, v in self.best[3].items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
        self.optimizer.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("opt.")})
        if self.schedule is not None:
            self.schedule.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("sched.")})
        meta = json.loads(str(state["trainer.meta"]))
        self.epoch, self.batch, self.partial, self.wait = meta["epoch"], meta["batch"], meta["partial"], meta["wait"]
        self.rng.bit_generator.state = meta["rng"]
        columns = meta["history_columns"]
        self.history = [{c: int(v) if c == "epoch" else float(v) for c, v in zip(columns, row)}
                        for row in state["trainer.history"]]
        self.stop_reason = meta.get("stop_reason")  # early stopping may have fired at the saved epoch
        self.perm = state.get("trainer.perm")
        self.best = None
        if meta["best"] is not None:
            buffers = {k[len("trainer.best_buf."):]: v for k, v in state.items()
                       if k.startswith("trainer.best_buf.")}
            self.best = (meta["best"][0], meta["best"][1], state["trainer.best_theta"].copy(), buffers)
