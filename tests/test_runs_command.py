"""`nncli runs`: sorting that never ranks accuracy against R^2, filters, limits, a sweep's
trials, tables that fit 80 columns on a terminal and stay whole in a pipe, and errors."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from helpers import write

ROOT = Path(__file__).resolve().parent.parent
IRIS = "name: {name}\nseed: 1\ndata: {{dataset: iris, validation: 0.2}}\nmodel: {{hidden: [8]}}\n" \
       "optimizer: {{name: adam, lr: {lr}}}\ntraining: {{epochs: {epochs}, batch_size: 16}}\n"
DIABETES = "name: {name}\nseed: 2\ndata: {{dataset: diabetes}}\nmodel: {{hidden: [8]}}\n" \
           "optimizer: {{name: adam, lr: {lr}}}\ntraining: {{epochs: {epochs}, batch_size: 32}}\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Three iris runs, two diabetes runs (one with a long name) and a sweep."""
    from nncli import runner
    from nncli.cli import main  # noqa: F401  (the CLI imports what the runs need)
    from nncli.config import load_config

    root = tmp_path_factory.mktemp("store")
    runs = root / "runs"
    for text, name, lr, epochs in ((IRIS, "iris-a", 0.05, 6), (IRIS, "iris-b", 0.01, 2), (IRIS, "iris-c", 0.003, 1),
                                   (DIABETES, "diabetes", 0.01, 2),
                                   (DIABETES, "diabetes-with-a-long-name", 0.05, 4)):
        cfg = write(root / f"{name}.yaml", text.format(name=name, lr=lr, epochs=epochs))
        runner.train(load_config(cfg), runs_dir=runs)
    cfg = write(root / "sw.yaml", IRIS.format(name="sw", lr=0.01, epochs=2))
    out = subprocess.run([sys.executable, "-m", "nncli", "sweep", str(cfg), "optimizer.lr=0.1,0.01,0.001",
                          "model.hidden=[4],[8]", "--runs-dir", str(runs), "--quiet"],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return runs


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def rows(nncli, *args) -> list[dict]:
    r = nncli("runs", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_scores_rank_within_their_metric(store, nncli):
    got = rows(nncli, "--runs-dir", store, "--sort", "val")
    metrics = [r["metric"] for r in got]
    assert metrics == sorted(metrics, key=lambda m: (m != "accuracy", m))  # never interleaved
    for m in ("accuracy", "r2"):
        vals = [r["val"] for r in got if r["metric"] == m]
        assert vals == sorted(vals, reverse=True) and len(vals) >= 2
    worst = rows(nncli, "--runs-dir", store, "--sort", "val", "--asc")
    assert [r["val"] for r in worst if r["metric"] == "r2"] == sorted(r["val"] for r in got if r["metric"] == "r2")

    r = nncli("runs", "--runs-dir", store, "--sort", "val")  # piped: plain text, every column
    header, *lines = r.out.splitlines()
    assert "val acc" in header and "val r2" in header and "test acc" in header and "test r2" in header
    acc_at, r2_at = header.index("val acc"), header.index("val r2")
    for line in lines:
        name = line.split()[0]
        acc, r2 = line[acc_at:acc_at + 7].strip(), line[r2_at - 1:r2_at + 6].strip()
        if name.endswith(("-iris-a", "-iris-b", "-iris-c")):
            assert acc != "-" and r2 == "-"
        elif "diabetes" in name:
            assert acc == "-" and r2 != "-"


def test_sort_order_filter_and_limit(store, nncli):
    by_dir = rows(nncli, "--runs-dir", store)
    assert [r["dir"] for r in by_dir] == sorted(r["dir"] for r in by_dir)
    newest = rows(nncli, "--runs-dir", store, "--desc")
    assert [r["dir"] for r in newest] == sorted((r["dir"] for r in by_dir), reverse=True)
    longest = rows(nncli, "--runs-dir", store, "--sort", "time", "--desc", "--limit", "2")
    assert len(longest) == 2 and longest[0]["time"] >= longest[1]["time"]
    assert longest[1]["time"] >= max(r["time"] for r in by_dir if r["dir"] not in {x["dir"] for x in longest})

    assert {r["name"] for r in rows(nncli, "--runs-dir", store, "--filter", "name~iris")} == {"iris-a", "iris-b", "iris-c"}
    assert {r["name"] for r in rows(nncli, "--runs-dir", store, "-f", "optimizer.lr=0.01", "-f", "status=finished")} \
        == {"iris-b", "diabetes"}
    assert {r["name"] for r in rows(nncli, "--runs-dir", store, "-f", "lr<0.01")} == {"iris-c"}
    assert {r["name"] for r in rows(nncli, "--runs-dir", store, "-f", "val>0.8", "-f", "epochs>=2")} <= {"iris-a", "iris-b"}
    assert rows(nncli, "--runs-dir", store, "-f", "model.hidden=[8]", "-f", "data.dataset=diabetes", "--limit", "1")[0][
        "name"].startswith("diabetes")


@pytest.mark.parametrize("args, says", [
    (["--filter", "stauts=finished"], "did you mean 'status'"),
    (["--filter", "optimizer.lrr=0.1"], "did you mean 'optimizer.lr'"),
    (["--filter", "lr"], "expected KEY OP VALUE"),
    (["--sort", "vla"], "did you mean 'val'"),
])
def test_mistakes_are_usage_errors(args, says, store, nncli):
    r = nncli("runs", "--runs-dir", store, *args)
    assert r.code == 2 and says in r.err and "Traceback" not in r.err


def test_missing_directory_or_a_file_is_an_error(tmp_path, nncli):
    r = nncli("runs", tmp_path / "nowhere")
    assert r.code == 4 and "no such runs directory" in r.err
    f = write(tmp_path / "file.txt", "x")
    r = nncli("runs", "--runs-dir", f)
    assert r.code == 4 and "is a file, not a runs directory" in r.err
    r = nncli("runs", tmp_path, "--runs-dir", f)
    assert r.code == 2 and "disagree" in r.err


def test_a_sweep_lists_its_trials_with_the_swept_keys(store, nncli):
    (sweep,) = [p for p in store.iterdir() if (p / "manifest.json").exists()]
    listed = rows(nncli, "--runs-dir", store)
    (row,) = [r for r in listed if r.get("kind") == "sweep"]
    assert row["status"] == "sweep 6/6" and row["run"] == sweep.name
    trials = rows(nncli, "--runs-dir", store, "--sweep", sweep.name)
    assert len(trials) == 6 and [t["score"] for t in trials] == sorted((t["score"] for t in trials), reverse=True)
    assert all(set(t) >= {"trial", "label", "lr", "hidden", "status", "val"} for t in trials)
    assert [t["trial"] for t in rows(nncli, "--runs-dir", store, "--sweep", sweep.name, "--sort", "trial")] == \
        [f"t00{i}" for i in range(6)]
    assert {t["lr"] for t in rows(nncli, "--runs-dir", store, "--sweep", sweep.name, "-f", "hidden=[4]",
                                   "-f", "lr>=0.01")} == {0.1, 0.01}
    r = nncli("runs", sweep)  # a sweep's directory lists its trials
    header = r.out.splitlines()[0].split()
    assert header[:3] == ["trial", "lr", "hidden"] and "6 trials of sweep" in r.err


def _in_terminal(args, cols=80) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=subprocess.PIPE, env=_env(NO_COLOR="1", TERM="xterm"))
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    os.close(leader)
    return seen.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_eighty_columns_keep_every_run_name_whole(store):
    text = _in_terminal(["runs", "--runs-dir", store, "--sort", "val"])
    lines = text.replace("\r", "").splitlines()
    assert lines and max(len(line) for line in lines) <= 80, text
    for p in store.iterdir():
        assert p.name in text  # the longest is 48 characters: other columns make room
    assert "val acc" in text and "…" not in text
    (sweep,) = [p for p in store.iterdir() if (p / "manifest.json").exists()]
    text = _in_terminal(["runs", "--runs-dir", store, "--sweep", sweep.name])
    lines = text.replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 80 and "lr" in text and "hidden" in text and "t005" in text
