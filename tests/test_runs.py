from __future__ import annotations

import errno
import io
import json
import os
import re
import threading
import zipfile

import numpy as np
import pytest

from nncli import checkpoint, modelfiles, runs
from nncli.checkpoint import decode_checkpoint
from nncli.errors import ConfigError, FormatError, RunError
from nncli.metricscsv import read_metrics_csv, write_metrics_csv
from nncli.modelfiles import load_checkpoint, save_checkpoint
from nncli.runs import (
    CHECKPOINT_FILE,
    CHECKPOINT_PREV_FILE,
    CONFIG_FILE,
    atomic_write_bytes,
    atomic_write_text,
    check_name,
    claim_run_dir,
    get_str,
    list_runs,
    load_npz,
    put_str,
    read_summary,
    remove_temp_files,
    resolve_run,
    save_npz,
    write_json,
    write_summary,
)

DIR_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}-(.+)$")


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ---------------------------------------------------------------- names and claims

@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 100, "a..b", "-x", "a b",
                                  "a\\b", None, 3])
def test_bad_names_refused(name):
    with pytest.raises(ConfigError, match="^name: "):
        check_name(name)


@pytest.mark.parametrize("name", ["run", "digits-1.2_x", "x" * 64, "0"])
def test_good_names(name):
    assert check_name(name) == name


def test_claim_refuses_bad_name_before_touching_disk(tmp_path):
    with pytest.raises(ConfigError):
        claim_run_dir(tmp_path / "runs", "../escape")
    assert not (tmp_path / "runs").exists()


def test_fifty_claims_in_a_loop_are_distinct(tmp_path):
    root = tmp_path / "runs"  # created on demand
    dirs = [claim_run_dir(root, "exp") for _ in range(50)]
    assert len({d.name for d in dirs}) == 50
    for d in dirs:
        assert d.is_dir() and d.parent == root
        m = DIR_RE.match(d.name)
        assert m and m.group(1) == "exp"
    assert sorted(p.name for p in root.iterdir()) == sorted(d.name for d in dirs)


def test_sixteen_threads_claim_distinct_dirs(tmp_path):
    barrier = threading.Barrier(16)
    got, errors = [], []

    def claim():
        barrier.wait()
        try:
            got.append(claim_run_dir(tmp_path, "t"))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({d.name for d in got}) == 16
    assert len(list(tmp_path.iterdir())) == 16


def test_claim_retries_on_a_taken_name(tmp_path, monkeypatch):
    tokens = iter(["abcdef", "abcdef", "123456"])
    monkeypatch.setattr(runs.secrets, "token_hex", lambda n: next(tokens))
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20240101-000000")
    a = claim_run_dir(tmp_path, "x")
    b = claim_run_dir(tmp_path, "x")
    assert a.name == "20240101-000000-abcdef-x"
    assert b.name == "20240101-000000-123456-x"


def test_unwritable_root_is_a_run_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RunError, match=r"file.*Not a directory") as e:
        claim_run_dir(blocker / "runs", "x")
    assert str(blocker) in str(e.value)


# ---------------------------------------------------------------- atomic writes

@pytest.mark.parametrize("target", ["write", "fsync"])
def test_atomic_write_keeps_old_content_on_enospc(tmp_path, monkeypatch, target):
    path = tmp_path / "metrics.csv"
    atomic_write_text(path, "old\n")
    monkeypatch.setattr(runs.os, target, enospc)
    with pytest.raises(RunError) as e:
        atomic_write_text(path, "new content\n" * 1000)
    monkeypatch.undo()
    msg = str(e.value)
    assert f"cannot write {path}" in msg and "No space left on device" in msg
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["metrics.csv"]  # no temp file left


def test_atomic_write_cleans_up_on_interrupt(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"{}")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_atomic_write_replaces_and_writes_all_bytes(tmp_path):
    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, data)
    assert path.read_bytes() == data
    assert os.listdir(tmp_path) == ["blob"]


def test_write_json_turns_nan_and_inf_into_null(tmp_path):
    path = tmp_path / "s.json"
    write_json(path, {"b": float("nan"), "a": [np.float32(1.5), float("inf")], "n": np.int64(3)})
    text = path.read_text()
    assert json.loads(text) == {"b": None, "a": [1.5, None], "n": 3}
    assert text.index('"b"') < text.index('"a"')  # key order kept
    assert "NaN" not in text and "Infinity" not in text


# ---------------------------------------------------------------- npz

def test_save_and_load_npz_round_trip_with_text(tmp_path):
    history = json.dumps({"loss": [0.5, 0.25], "名": "✓"})
    arrays = {"W0": np.arange(6.0).reshape(2, 3), "rng": put_str(history), "n": np.array(3)}
    save_npz(tmp_path / "m.npz", arrays)
    got = load_npz(tmp_path / "m.npz")
    assert set(got) == {"W0", "rng", "n"}
    np.testing.assert_array_equal(got["W0"], arrays["W0"])
    assert got["rng"].dtype.kind == "U" and got["rng"].shape == ()
    assert get_str(got["rng"]) == history


def test_save_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="'bad'"):
        save_npz(tmp_path / "m.npz", {"bad": np.array([1, "a"], dtype=object)})
    assert not (tmp_path / "m.npz").exists()


def test_load_npz_refuses_object_array(tmp_path):
    path = tmp_path / "evil.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W.npy", buf.getvalue())
    with pytest.raises(RunError, match=r"evil\.npz: corrupt or not an nncli file"):
        load_npz(path)


def test_load_npz_refuses_junk_and_bare_npy(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"hello")
    with pytest.raises(RunError, match=r"junk\.npz: corrupt or not an nncli file"):
        load_npz(tmp_path / "junk.npz")
    np.save(tmp_path / "bare.npy", np.ones(3))
    with pytest.raises(RunError, match=r"bare\.npy: corrupt or not an nncli file"):
        load_npz(tmp_path / "bare.npy")
    with pytest.raises(RunError, match=r"none\.npz: no such file"):
        load_npz(tmp_path / "none.npz")


def test_get_str_refuses_non_text():
    with pytest.raises(RunError):
        get_str(np.ones(2))


# ---------------------------------------------------------------- metrics.csv

def test_metrics_csv_neutralises_formulas(tmp_path):
    path = tmp_path / "metrics.csv"
    rows = [
        {"epoch": 1, "loss": -0.5, "note": "=1+1"},
        {"epoch": 2, "loss": 0.1, "note": "+cmd"},
        {"epoch": 3, "loss": float("nan"), "note": "-cmd"},
        {"epoch": 4, "loss": 1e-300, "note": "@x"},
        {"epoch": 5, "loss": np.float32(0.25), "note": "\tx"},
        {"epoch": 6, "loss": 2.0, "note": "-0.5"},
        {"epoch": 7, "loss": 3.0, "note": "'=kept"},
    ]
    write_metrics_csv(path, rows)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,note"
    assert lines[1] == "1,-0.5,'=1+1"  # the number stays a number, the text is quoted
    assert lines[2] == "2,0.1,'+cmd"
    assert lines[3] == "3,nan,'-cmd"
    assert lines[4] == "4,1e-300,'@x"
    assert lines[5] == "5,0.25,'\tx"
    assert lines[6] == "6,2.0,-0.5"
    assert lines[7] == "7,3.0,''=kept"
    back = read_metrics_csv(path)
    assert [r["note"] for r in back[:5]] == ["=1+1", "+cmd", "-cmd", "@x", "\tx"]
    assert back[6]["note"] == "'=kept"
    assert back[0]["loss"] == -0.5 and back[0]["epoch"] == 1
    assert np.isnan(back[2]["loss"])


def test_metrics_csv_keeps_full_float_precision_and_later_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    x = 0.1 + 0.2
    write_metrics_csv(path, [{"epoch": 1, "loss": x}, {"epoch": 2, "loss": 1 / 3, "val_loss": 0.5}])
    back = read_metrics_csv(path)
    assert back[0] == {"epoch": 1, "loss": x, "val_loss": None}
    assert back[1] == {"epoch": 2, "loss": 1 / 3, "val_loss": 0.5}


def test_metrics_csv_write_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.csv"
    write_metrics_csv(path, [{"epoch": 1}])
    monkeypatch.setattr(runs.os, "write", enospc)
    with pytest.raises(RunError, match="metrics.csv: No space left"):
        write_metrics_csv(path, [{"epoch": 1}, {"epoch": 2}])
    monkeypatch.undo()
    assert read_metrics_csv(path) == [{"epoch": 1}]


def test_read_metrics_missing(tmp_path):
    with pytest.raises(RunError, match="no such file"):
        read_metrics_csv(tmp_path / "metrics.csv")


# ---------------------------------------------------------------- summary and checkpoints

def test_summary_round_trip_and_errors(tmp_path):
    write_summary(tmp_path, {"status": "done", "val_loss": 0.1})
    assert read_summary(tmp_path) == {"status": "done", "val_loss": 0.1}
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(RunError, match=r"summary\.json: corrupt"):
        read_summary(tmp_path)
    with pytest.raises(RunError, match=r"summary\.json: no such file"):
        read_summary(tmp_path / "nothing")


def trainer_state(epoch: int, **net) -> dict:
    """A state shaped as Trainer.state_dict() returns it, after ``epoch`` epochs."""
    return {"net": net, "optimizer": {"t": np.array(epoch), "lr": np.array(0.1)}, "schedule": {},
            "trainer": {"epoch": epoch, "batch": 0, "partial": [0.0, 0.0, 0], "wait": 0, "stop_reason": None,
                        "rng": np.random.default_rng(epoch).bit_generator.state, "layer_rng": {},
                        "perm": None, "best": None},
            "history": [{"epoch": e + 1, "loss": 1.0 / (e + 1)} for e in range(epoch)]}


def epoch_in(path) -> int:
    return decode_checkpoint(load_npz(path), path)["trainer"]["epoch"]


def test_checkpoint_keeps_previous_and_falls_back(tmp_path):
    save_checkpoint(tmp_path, trainer_state(1))
    assert not (tmp_path / CHECKPOINT_PREV_FILE).exists()
    save_checkpoint(tmp_path, trainer_state(2, W=np.ones((50, 50))))
    state, used = load_checkpoint(tmp_path)
    assert used == CHECKPOINT_FILE and state["trainer"]["epoch"] == 2
    assert np.array_equal(state["net"]["W"], np.ones((50, 50)))
    assert state["history"] == trainer_state(2)["history"]
    assert state["trainer"]["rng"] == np.random.default_rng(2).bit_generator.state
    assert int(load_npz(tmp_path / CHECKPOINT_FILE)["format"]) == 2
    assert epoch_in(tmp_path / CHECKPOINT_PREV_FILE) == 1
    # truncate the newest: the previous one is used
    newest = tmp_path / CHECKPOINT_FILE
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    state, used = load_checkpoint(tmp_path)
    assert used == CHECKPOINT_PREV_FILE and state["trainer"]["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_FILE, CHECKPOINT_PREV_FILE]


@pytest.mark.parametrize("damage", [
    lambda a: a.pop("trainer.meta"),
    lambda a: a.update({"trainer.meta": np.array("[1, 2]")}),
    lambda a: a.update({"trainer.meta": np.array("{not json")}),
    lambda a: a.update({"trainer.history": np.zeros((2, 5))}),
], ids=["no-meta", "meta-not-an-object", "meta-not-json", "history-of-another-shape"])
def test_checkpoint_that_reads_but_does_not_decode_falls_back(tmp_path, damage):
    save_checkpoint(tmp_path, trainer_state(1))
    save_checkpoint(tmp_path, trainer_state(2))
    arrays = load_npz(tmp_path / CHECKPOINT_FILE)
    damage(arrays)
    save_npz(tmp_path / CHECKPOINT_FILE, arrays)
    state, used = load_checkpoint(tmp_path)
    assert used == CHECKPOINT_PREV_FILE and state["trainer"]["epoch"] == 1
    # both undecodable: one line naming both files
    save_npz(tmp_path / CHECKPOINT_PREV_FILE, arrays)
    with pytest.raises(RunError, match="no usable checkpoint.*checkpoint.npz: bad contents.*"
                                       "checkpoint.prev.npz: bad contents") as e:
        load_checkpoint(tmp_path)
    assert "\n" not in str(e.value)


def test_checkpoint_of_a_newer_format_is_refused_not_skipped(tmp_path):
    save_checkpoint(tmp_path, trainer_state(1))
    save_checkpoint(tmp_path, trainer_state(2))
    arrays = load_npz(tmp_path / CHECKPOINT_FILE)
    arrays["format"] = np.array(4)
    save_npz(tmp_path / CHECKPOINT_FILE, arrays)
    with pytest.raises(FormatError, match="checkpoint format 4.*upgrade nncli"):
        load_checkpoint(tmp_path)


def test_checkpoint_both_corrupt_or_missing(tmp_path):
    with pytest.raises(RunError, match="checkpoint.npz: missing; checkpoint.prev.npz: missing"):
        load_checkpoint(tmp_path)
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"PK\x03\x04trunc")
    (tmp_path / CHECKPOINT_PREV_FILE).write_bytes(b"")
    with pytest.raises(RunError, match="no usable checkpoint.*corrupt or truncated") as e:
        load_checkpoint(tmp_path)
    assert "\n" not in str(e.value)


def test_failed_checkpoint_write_keeps_the_current_one(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, trainer_state(1))
    monkeypatch.setattr(runs.os, "fsync", enospc)
    with pytest.raises(RunError, match="No space left"):
        save_checkpoint(tmp_path, trainer_state(2))
    monkeypatch.undo()
    state, used = load_checkpoint(tmp_path)
    assert used == CHECKPOINT_FILE and state["trainer"]["epoch"] == 1
    assert os.listdir(tmp_path) == [CHECKPOINT_FILE]


def test_model_files_carry_and_check_their_format(tmp_path):
    with pytest.raises(RunError, match="no model.npz"):
        modelfiles.load_model_arrays(tmp_path)
    W = np.arange(6.0).reshape(2, 3)
    modelfiles.save_model(tmp_path, {"net.dense0.W": W})
    arrays = modelfiles.load_model_arrays(tmp_path)
    assert sorted(arrays) == ["format", "net.dense0.W"] and int(arrays["format"]) == checkpoint.MODEL_FORMAT
    assert np.array_equal(arrays["net.dense0.W"], W)
    save_npz(tmp_path / runs.MODEL_FILE, {"net.dense0.W": W})  # nncli 0.1.0 wrote no format: still read
    assert np.array_equal(modelfiles.load_model_arrays(tmp_path)["net.dense0.W"], W)
    save_npz(tmp_path / runs.MODEL_FILE, {"format": np.array("2"), "net.dense0.W": W})
    with pytest.raises(RunError, match="model.npz: corrupt or not an nncli file"):
        modelfiles.load_model_arrays(tmp_path)
    save_npz(tmp_path / runs.MODEL_FILE, {"format": np.array(7), "net.dense0.W": W})
    with pytest.raises(FormatError, match="model format 7 .*upgrade nncli"):
        modelfiles.load_model_arrays(tmp_path)


# ---------------------------------------------------------------- finding runs

def make_run(root, name, summary=None):
    d = claim_run_dir(root, name)
    (d / CONFIG_FILE).write_text("name: x\n")
    if summary is not None:
        write_summary(d, summary)
    return d


def test_resolve_run_by_path_dir_name_and_run_name(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    stamps = iter(["20240101-000000", "20240102-000000", "20240103-000000"])
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: next(stamps))
    old, new = make_run(root, "digits"), make_run(root, "digits")
    make_run(root, "mnist-digits")  # newer, but another name
    monkeypatch.undo()
    assert resolve_run(str(old), root=root) == old
    assert resolve_run(old.name, root=root) == root / old.name
    assert resolve_run("digits", root=root) == new  # the newest run of that name


def test_resolve_run_errors(tmp_path):
    root = tmp_path / "runs"
    d = claim_run_dir(root, "half")  # no config.yaml yet
    with pytest.raises(RunError, match="not an nncli run directory"):
        resolve_run(str(d), root=root)
    with pytest.raises(RunError, match=r"no run 'nope'"):
        resolve_run("nope", root=root)
    with pytest.raises(RunError, match="did you mean"):
        resolve_run(d.name[:-1], root=root)


def test_list_runs(tmp_path):
    root = tmp_path / "runs"
    assert list_runs(root) == []
    a = make_run(root, "a", {"status": "done", "val_loss": 0.5})
    b = make_run(root, "b")
    (b / "summary.json").write_text("[broken")
    c = make_run(root, "c", {"status": "running"})
    got = list_runs(root)
    expected = sorted([(a, "done"), (b, "unknown"), (c, "running")], key=lambda t: t[0].name)
    assert [(r["dir"], r["status"]) for r in got] == [(str(p), s) for p, s in expected]
    assert got[[r["dir"] for r in got].index(str(a))]["val_loss"] == 0.5


def test_checkpoint_rotation_after_a_killed_rotation(tmp_path):
    """A kill between the two renames leaves both names on one file; the next save copes."""
    save_checkpoint(tmp_path, trainer_state(1))
    os.link(tmp_path / "checkpoint.npz", tmp_path / "checkpoint.prev.npz")  # the state a kill leaves
    save_checkpoint(tmp_path, trainer_state(2))
    assert epoch_in(tmp_path / "checkpoint.npz") == 2
    assert epoch_in(tmp_path / "checkpoint.prev.npz") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "checkpoint.prev.npz"]


def test_remove_temp_files_only_touches_temporaries(tmp_path):
    (tmp_path / ".checkpoint.npz.abc.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("mine")
    (tmp_path / "config.yaml").write_text("name: x\n")
    remove_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "notes.tmp"]
