"""Long runs: what a run writes per epoch does not grow with the epoch number (metrics.csv is
appended to; the checkpoint counts its rows instead of holding the history), and a resume
takes the history from metrics.csv exactly as it was, ignoring rows past the checkpoint."""

from __future__ import annotations

import numpy as np
from helpers import load_arrays, write

from nncli import metricscsv, modelfiles, runner, runs
from nncli.atomic import load_npz, npz_bytes
from nncli.checkpoint import encode_checkpoint
from nncli.config import load_config

LONG = """\
name: long
seed: 1
data: {dataset: iris, validation: 0.2, test: 0.2}
model: {hidden: [4]}
optimizer: {name: sgd, lr: 0.05}
training: {epochs: 400, batch_size: 200, early_stopping: {enabled: false}}
plots: false
"""


def test_bytes_written_per_epoch_do_not_grow_with_the_epoch(tmp_path, monkeypatch):
    appended, rewrites, checkpoints = [], [], []
    real_append, real_rewrite = metricscsv.append_text, metricscsv.atomic_write_text
    real_save = modelfiles.save_checkpoint

    def append(path, text):
        appended.append((text.count("\n"), len(text.encode())))
        real_append(path, text)

    def rewrite(path, text):
        if path.name == runs.METRICS_FILE:
            rewrites.append(text.count("\n"))
        real_rewrite(path, text)

    def save(run_dir, state, extra=None, history_columns=None):
        size = len(npz_bytes(encode_checkpoint(state, extra, history_columns)))
        checkpoints.append((state["trainer"]["epoch"], size, "history" in state))
        real_save(run_dir, state, extra, history_columns)

    monkeypatch.setattr(metricscsv, "append_text", append)
    monkeypatch.setattr(metricscsv, "atomic_write_text", rewrite)
    monkeypatch.setattr(modelfiles, "save_checkpoint", save)
    run, summary = runner.train(load_config(write(tmp_path / "long.yaml", LONG)), runs_dir=tmp_path / "runs")
    assert summary["epochs_run"] == 400

    # metrics.csv: written whole once (the header and the rows so far), then appended to
    assert len(rewrites) == 1
    assert rewrites[0] - 1 + sum(rows for rows, _ in appended) == 400
    per_row = [size / rows for rows, size in appended]
    assert max(per_row) < 2 * min(per_row) and max(per_row) < 200
    assert len(metricscsv.read_metrics_csv(run / runs.METRICS_FILE)) == 400

    # the checkpoint: the same size at the last epoch as at the first, no history inside
    sizes = [size for _, size, _ in checkpoints]
    assert not any(has_history for _, _, has_history in checkpoints)
    assert checkpoints[-1][0] == 400 and max(sizes) - min(sizes) < 64
    assert "trainer.history" not in load_arrays(run / runs.CHECKPOINT_FILE)


def _state(epoch: int) -> dict:
    return {"net": {"W": np.full((3, 3), float(epoch))}, "optimizer": {"t": np.array(epoch)}, "schedule": {},
            "trainer": {"epoch": epoch, "batch": 0, "partial": [0.0, 0.0, 0], "wait": 0, "stop_reason": None,
                        "rng": np.random.default_rng(epoch).bit_generator.state, "layer_rng": {},
                        "perm": None, "best": None}}


ROWS = [{"epoch": e, "loss": 1 / (e + 2) + 1e-17 * e, "val_loss": float("nan") if e == 2 else 0.1 * e,
         "lr": 0.1} for e in range(1, 8)]


def test_resume_takes_the_history_from_metrics_csv_exactly(tmp_path):
    log = metricscsv.MetricsLog(tmp_path / runs.METRICS_FILE)
    for epoch in (1, 2, 3):
        log.add(ROWS[epoch - 1])
        log.flush()
        modelfiles.save_checkpoint(tmp_path, _state(epoch), history_columns=log.columns())
    log.add(ROWS[3])
    log.flush()  # a row the writer appended before it was killed, and half of one more
    with open(tmp_path / runs.METRICS_FILE, "a") as f:
        f.write("5,0.1")
    assert [r["epoch"] for r in metricscsv.read_metrics_csv(tmp_path / runs.METRICS_FILE)] == [1, 2, 3, 4]
    state, used = modelfiles.load_checkpoint(tmp_path)
    assert used == runs.CHECKPOINT_FILE and int(load_npz(tmp_path / used)["format"]) == 3
    got = state["history"]
    assert [r["epoch"] for r in got] == [1, 2, 3]
    for want, row in zip(ROWS, got):
        assert row["loss"] == want["loss"] and row["lr"] == want["lr"]  # bit for bit
    assert np.isnan(got[1]["val_loss"]) and got[2]["val_loss"] == ROWS[2]["val_loss"]

    # the resumed run's log rewrites the file from its history: the stray rows are gone
    resumed = metricscsv.MetricsLog(tmp_path / runs.METRICS_FILE, got)
    resumed.add(ROWS[3])
    resumed.flush()
    assert [r["epoch"] for r in metricscsv.read_metrics_csv(tmp_path / runs.METRICS_FILE)] == [1, 2, 3, 4]


def test_metrics_csv_shorter_than_the_checkpoint_falls_back_to_the_previous_one(tmp_path):
    log = metricscsv.MetricsLog(tmp_path / runs.METRICS_FILE)
    for epoch in (1, 2, 3):
        log.add(ROWS[epoch - 1])
        log.flush()
        modelfiles.save_checkpoint(tmp_path, _state(epoch), history_columns=log.columns())
    lines = (tmp_path / runs.METRICS_FILE).read_text().splitlines(keepends=True)
    (tmp_path / runs.METRICS_FILE).write_text("".join(lines[:3]))  # header and two rows
    state, used = modelfiles.load_checkpoint(tmp_path)
    assert used == runs.CHECKPOINT_PREV_FILE and state["trainer"]["epoch"] == 2
    (tmp_path / runs.METRICS_FILE).unlink()
    try:
        modelfiles.load_checkpoint(tmp_path)
    except runs.RunError as e:
        assert "metrics.csv has 0 rows for 3 epochs" in str(e) and "\n" not in str(e)
    else:
        raise AssertionError("a checkpoint without its history was used")


def test_a_new_column_rewrites_the_file_once(tmp_path):
    path = tmp_path / runs.METRICS_FILE
    log = metricscsv.MetricsLog(path)
    log.add({"epoch": 1, "loss": 0.5})
    log.add({"epoch": 2, "loss": 0.4, "val_loss": 0.6})
    log.add({"epoch": 3, "loss": 0.3, "val_loss": 0.5})
    log.flush()
    log.add({"epoch": 4, "loss": 0.2, "val_loss": 0.4})
    log.flush()
    assert path.read_text() == "epoch,loss,val_loss\n1,0.5,\n2,0.4,0.6\n3,0.3,0.5\n4,0.2,0.4\n"
