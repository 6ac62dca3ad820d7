"""The run's files as it trains: metrics.csv and the checkpoint after every epoch (``stop`` is
the runner's StopFlag, set by a signal handler)."""

from __future__ import annotations

from pathlib import Path

from nncli import metricscsv, modelfiles, runs
from nncli.nn import Callback
from nncli.runlock import RunLock


class RunRecorder(Callback):
    """Keeps the run's files current: metrics.csv and the checkpoint after every epoch (and
    every N batches), written off the training thread so the loop never waits on the disk.
    Each write costs the same at epoch 10 and at epoch 10,000: metrics.csv grows by appending
    and the checkpoint counts its rows instead of holding the history (``checkpoint.py``)."""

    def __init__(self, run_dir: Path, writer: runs.BackgroundWriter, every_batches: int, stop,
                 saved: dict | None = None, lock: RunLock | None = None):
        self.run_dir, self.writer, self.every, self.stop = run_dir, writer, every_batches, stop
        self.saved, self.lock = saved, lock
        self.metrics = None

    def on_train_begin(self, trainer):
        # a resumed run starts from its history, which its metrics.csv may lack (a full disk)
        # or exceed (rows appended after the checkpoint): the first flush rewrites the file
        self.metrics = metricscsv.MetricsLog(self.run_dir / runs.METRICS_FILE, trainer.history)
        if trainer.history:
            self.writer.submit("metrics", self.metrics.flush)

    def _save(self, state, columns):
        self.metrics.flush()  # the rows this checkpoint counts reach the file first
        modelfiles.save_checkpoint(self.run_dir, state, self.saved, columns)

    def checkpoint(self, trainer):
        self.writer.submit("checkpoint", self._save, trainer.state_dict(history=False), self.metrics.columns())

    def on_batch_end(self, trainer, epoch, batch):
        if self.stop.signame:
            trainer.stop_training = True
        elif self.every and (batch + 1) % self.every == 0:
            self.checkpoint(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        self.metrics.add(logs)
        self.checkpoint(trainer)
        if self.lock is not None:
            self.writer.submit("heartbeat", self.lock.beat, epoch + 1)
        if self.stop.signame:
            trainer.stop_training = True
