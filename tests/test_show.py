"""The terminal: the live progress of ``nncli train`` (one line per finished epoch above a bar),
``nncli show`` (status, scores, a sample of the history and a text chart) and the text chart."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from helpers import write
from rich.console import Console

from nncli import rundata, runner
from nncli.cli.train import _progress_callback
from nncli.config import load_config
from nncli.textplot import chart, log_scale
from nncli.views import epoch_line, history_rows, shows_epoch

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IRIS = ("name: iris\nseed: 3\ndata: {dataset: iris, subset: 60}\nmodel: {hidden: [4]}\n"
        "optimizer: {lr: 0.01}\ntraining: {epochs: %d, batch_size: 60}\nplots: false\n")
LOGS = {"epoch": 3, "loss": 0.1234, "accuracy": 0.95, "val_loss": 0.2345, "val_accuracy": 0.94,
        "lr": 0.001, "seconds": 1.2}


def screen_lines(text: str) -> list[str]:
    """What a terminal shows line by line, with cursor and colour codes removed."""
    lines = []
    for raw in ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        lines.append(raw.split("\r")[-1])  # a carriage return redraws the line
    return lines


def train_with_progress(tmp_path, epochs: int, mode: str, width: int = 80) -> tuple[str, Path]:
    cfg = load_config(write(tmp_path / "iris.yaml", IRIS % epochs))
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=mode == "bar", width=width, color_system=None)
    callback, progress = _progress_callback(console, mode)
    if progress is not None:
        progress.start()
    try:
        run_dir, _ = runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[callback])
    finally:
        callback.flush()
        if progress is not None:
            progress.stop()
    return buf.getvalue(), run_dir


# ---------------------------------------------------------------- live progress
def test_epoch_line_keeps_the_counter_and_fits_the_width():
    assert epoch_line(LOGS, 30, 200) == ("epoch 3/30   loss 0.1234  accuracy 0.9500  val_loss 0.2345  "
                                         "val_accuracy 0.9400  lr 0.001  1.20s")
    # 80 columns: the learning rate goes first, then the training metric
    assert epoch_line(LOGS, 30, 80) == "epoch 3/30   loss 0.1234  val_loss 0.2345  val_accuracy 0.9400  1.20s"
    for width in range(10, 120):
        line = epoch_line(LOGS, 30, width)
        assert line.startswith("epoch 3/30") and len(line) <= max(width, len("epoch 3/30"))
    big = {"epoch": 7, "loss": 28643.9, "r2": -3.72, "val_loss": 18904.3, "val_r2": -2.86, "lr": 0.05, "seconds": 0.01}
    assert epoch_line(big, 200, 80) == \
        "epoch 7/200    loss 28643.9  r2 -3.7200  val_loss 18904.3  val_r2 -2.8600  0.01s"


@pytest.mark.parametrize("epochs", [1, 3, 30, 50, 51, 100, 333, 1000, 12345])
def test_long_runs_print_between_20_and_50_lines_with_the_first_and_the_last(epochs):
    shown = [e for e in range(1, epochs + 1) if shows_epoch(e, epochs)]
    assert shown[0] == 1 and shown[-1] == epochs
    assert len(shown) == epochs if epochs <= 50 else 20 <= len(shown) <= 52


def test_the_bar_in_an_80_column_terminal(tmp_path):
    text, run_dir = train_with_progress(tmp_path, 120, "bar")
    lines = screen_lines(text)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    epochs = [line for line in lines if line.startswith("epoch ") and "loss" in line]
    numbers = [int(re.match(r"epoch (\d+)/120", line).group(1)) for line in epochs]
    # one line per shown epoch, counted from 1, in order, never twice, the last one included
    assert numbers == [e for e in range(1, 121) if shows_epoch(e, 120)]
    assert epochs[0].startswith("epoch 1/120 ") and epochs[-1].startswith("epoch 120/120 ")
    assert all("val_accuracy" in line and "val_loss" in line for line in epochs)
    history = rundata.read_history(run_dir)
    assert f"val_loss {history[-1]['val_loss']:.4f}" in epochs[-1]
    # below each line the bar counts the epoch now training, never a stale one
    plain = ANSI.sub("", text)
    below = re.findall(r"epoch (\d+)/120 +loss[^\n]*\n(?:\r)?epoch (\d+)/120 ", plain)
    assert len(below) >= len(numbers) - 1
    assert all(int(bar) == min(int(done) + 1, 120) for done, bar in below), below
    # the live bar said what its times are
    assert "elapsed" in text and "remaining" in text
    assert re.search(r"epoch \d+/120 .*elapsed \d+:\d\d:\d\d remaining", ANSI.sub("", text))


def test_a_narrow_terminal_keeps_the_counter(tmp_path):
    text, _ = train_with_progress(tmp_path, 5, "bar", width=40)
    lines = screen_lines(text)
    assert all(len(line) <= 40 for line in lines), max(lines, key=len)
    assert [line.split()[1] for line in lines if line.startswith("epoch") and "val" in line] == \
        ["1/5", "2/5", "3/5", "4/5", "5/5"]
    # the bar's own counter survives too: other columns give way first
    assert re.search(r"epoch [1-5]/5", "\n".join(line for line in lines if "val" not in line))


def test_plain_lines_off_a_terminal(tmp_path):
    text, _ = train_with_progress(tmp_path, 3, "lines")
    assert "\x1b" not in text
    assert [line.split()[1] for line in text.splitlines()] == ["1/3", "2/3", "3/3"]


def test_an_early_stopped_run_prints_the_epoch_it_stopped_at(tmp_path):
    stop = "early_stopping: {enabled: true, patience: 2, min_delta: 0.5}"
    cfg = (IRIS % 400).replace("batch_size: 60}", f"batch_size: 60, {stop}}}")
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    callback, _ = _progress_callback(console, "lines")
    run_dir, summary = runner.train(load_config(write(tmp_path / "es.yaml", cfg)), runs_dir=tmp_path / "runs",
                                    callbacks=[callback])
    assert summary["epochs_run"] == 3  # stopped long before 400, on an epoch no rule would show
    assert console.file.getvalue().splitlines()[-1].startswith("epoch 3/400 ")


# ---------------------------------------------------------------- the text chart
def test_the_chart_draws_a_falling_curve_in_braille():
    values = [1.0 / (i + 1) for i in range(40)]
    lines = chart(values, "val_loss per epoch", width=60, height=8)
    assert lines[0] == "val_loss per epoch (log scale)"  # 1 / 0.025: more than a decade
    body = lines[1:9]
    assert all(len(line) <= 71 for line in lines)
    assert body[0].split("┤")[0].strip() == "1" and body[-1].split("┤")[0].strip() == "0.025"
    assert any(0x2800 < ord(c) <= 0x28FF for c in body[0])  # the top row holds the start
    first_dot = [min((i for i, c in enumerate(row.split("┤")[1]) if c != " "), default=None) for row in body]
    assert first_dot[0] == 0 and first_dot[-1] > 30  # high on the left, low on the right
    assert lines[-1].split() == ["1", "epoch", "40"]


def test_the_ascii_chart_uses_ascii_only():
    lines = chart([3.0, 2.0, 2.5, 1.0], "loss per epoch", width=30, height=6, unicode=False)
    text = "\n".join(lines)
    assert text.isascii() and "*" in text and "+-" in text
    assert lines[0] == "loss per epoch"  # 3x: linear


def test_log_scale_rule_of_the_chart():
    assert log_scale([10.0, 1.0]) and not log_scale([9.9, 1.0]) and not log_scale([1.0, -1.0, 100.0])


def test_history_sample_keeps_first_best_and_last():
    history = [{"epoch": e} for e in range(1, 201)]
    rows = history_rows(history, best_epoch=137, limit=15)
    epochs = [r["epoch"] for r in rows]
    assert len(rows) == 15 and epochs == sorted(epochs)
    assert {1, 137, 200} <= set(epochs)
    assert history_rows(history[:10], best_epoch=3, limit=15) == history[:10]


# ---------------------------------------------------------------- nncli show
def test_show_prints_status_scores_history_and_a_chart(tmp_path, nncli):
    run_dir, _ = runner.train(load_config(write(tmp_path / "iris.yaml", IRIS % 60)), runs_dir=tmp_path / "runs")
    r = nncli("show", run_dir)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[:3] == ["iris", f"directory: {run_dir}", "status: finished"]
    assert all(len(line) <= 80 for line in lines[2:]), max(lines[2:], key=len)
    best = rundata.read_run(run_dir).best_epoch
    assert f"best epoch: {best} (val_loss " in lines[3]
    assert "final scores" in r.out and "validation" in r.out and "test" in r.out
    table = [line for line in lines if re.match(r"^│\s+\d+\*?\s+│", line)]
    shown = [int(re.match(r"^│\s+(\d+)", line).group(1)) for line in table]
    assert len(table) == 15 and shown[0] == 1 and shown[-1] == 60 and best in shown
    assert [line for line in table if f"{best}*" in line]
    assert "val_loss per epoch" in r.out and any("┤" in line for line in lines)
    ascii_out = nncli("show", run_dir, "--ascii", "--rows", "5").out
    chart_part = ascii_out[ascii_out.index("val_loss per epoch"):]
    assert chart_part.isascii() and "*" in chart_part


def test_show_of_a_missing_run_exits_4(tmp_path, nncli):
    r = nncli("show", "nope", "--runs-dir", tmp_path)
    assert r.code == 4 and "no run 'nope'" in r.err
