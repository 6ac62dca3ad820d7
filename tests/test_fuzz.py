"""Fuzzing: hundreds of damaged, random and hostile inputs, and not one ends in a traceback.

Each family draws its cases from a seeded generator (the same cases on every run), feeds them
to the command line in process (the ``nncli`` fixture) and collects every outcome that is an
uncaught exception, exit code 1 or a traceback in the output. Every other exit code is a
handled outcome: 0 (accepted), 2 (usage or config), 3 (diverged) or 4 (data or run files). A
handful of cases also go through real ``python -m nncli`` processes.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import IRIS as IRIS_3_EPOCHS, write

from nncli import runner
from nncli.config import load_config

HANDLED = {0, 2, 3, 4}
IRIS = IRIS_3_EPOCHS.replace("epochs: 3", "epochs: 2")  # the shared iris config, two epochs
HEADER = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"
KEYS = ["name", "seed", "description", "data", "data.dataset", "data.path", "data.label", "data.params",
        "data.params.n_samples", "data.params.noise", "data.task", "data.validation", "data.test",
        "data.scaling", "data.polynomial", "data.subset", "model", "model.hidden", "model.activation",
        "model.leaky_slope", "model.maxout_pieces", "model.init", "model.init_scale", "model.dropout",
        "model.batch_norm", "model.bias", "model.output", "model.init_from", "model.freeze", "loss",
        "loss.name", "loss.class_weight", "loss.huber_delta", "optimizer", "optimizer.name", "optimizer.lr",
        "optimizer.betas", "optimizer.momentum", "optimizer.lookahead", "optimizer.lookahead.k",
        "optimizer.clip_norm", "optimizer.schedule", "optimizer.schedule.name", "optimizer.schedule.warmup",
        "regularization.l1", "regularization.l2", "training", "training.epochs", "training.batch_size",
        "training.shuffle", "training.dtype", "training.early_stopping", "training.early_stopping.patience",
        "training.checkpoint_every", "modle", "optimizer.learning_rate", ""]
SCALARS = ["0", "1", "-1", "2.5", "1e-3", "1e308", "-1e308", "1e10", "4294967296", "99999999999999999999999",
           ".inf", "-.inf", ".nan", "nan", "true", "false", "null", "~", "yes", "''", '""', "relu", "adam",
           "digits", "iris", "full", "balanced", "[]", "{}", "[1, 2]", "[0]", "[1000000000]", "[-3]",
           "{a: 1}", "[[1]]", "'x'", '"\\x00"', '"\\x1b[31m"', "!!python/object:os.system", "&a 1", "*a",
           "!!binary aGk=", "2001-12-14", "0x1F", "0o17", "1_000", "'" + "x" * 300 + "'", "|\n  text",
           "\ud800", "\x00", "\x01", "\x7f", "\t", "'a: b'", "- x", ": :", "{", "[", "]]", "%YAML 1.1"]


def _outcome(nncli, args, stdin=None) -> tuple[int, str] | None:
    """None when the command ended in a handled way; else (code, what went wrong)."""
    try:
        r = nncli(*args, stdin=stdin)
    except BaseException as e:  # noqa: BLE001  (an uncaught exception is exactly what is hunted)
        if isinstance(e, KeyboardInterrupt):
            raise
        return 1, f"{type(e).__name__}: {e}"
    if r.code not in HANDLED or "Traceback" in r.err:
        return r.code, r.err[-500:]
    return None


def _check(failures: list) -> None:
    assert not failures, f"{len(failures)} unhandled outcomes, e.g.:\n" + "\n".join(
        f"  {case!r}: exit {code}: {what}" for case, code, what in failures[:8])


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """(runs dir, run dir) of one finished iris run, used as the template of every case."""
    root = tmp_path_factory.mktemp("fuzz")
    run, _ = runner.train(load_config(write(root / "iris.yaml", IRIS)), runs_dir=root / "runs")
    return root / "runs", run


def _copy_run(iris_run, tmp_path: Path, i: int) -> tuple[Path, Path]:
    root = tmp_path / f"case{i}"
    run = Path(shutil.copytree(iris_run[1], root / iris_run[1].name))
    return root, run


# ---------------------------------------------------------------- configs
def _random_yaml(rng: random.Random) -> str:
    """A config assembled from real keys, odd values and broken syntax, or a valid config
    mangled character by character."""
    if rng.random() < 0.4:
        text = list(IRIS)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text))
            op = rng.random()
            if op < 0.4:
                text.insert(at, rng.choice(["\x00", "\x01", "\x1b", "\x7f", "\ud800", ":", "-", "[", "{", "&",
                                            "*", "!", "'", '"', "\t", "\n", " ", "#", "%", "@", "`", "|", ">"]))
            elif op < 0.7:
                del text[at]
            else:
                text[at] = rng.choice(string.printable)
        return "".join(text)
    lines = []
    for _ in range(rng.randint(0, 8)):
        key = rng.choice(KEYS)
        value = rng.choice(SCALARS)
        indent = " " * rng.choice([0, 0, 0, 1, 2, 4])
        lines.append(f"{indent}{key}: {value}" if rng.random() < 0.9 else f"{indent}- {value}")
    return "\n".join(lines) + rng.choice(["", "\n", "\n---\nname: x\n", "\n...\n"])


def test_fuzzed_config_text_never_crashes(nncli):
    rng = random.Random(1701)
    failures = []
    for i in range(120):
        text = _random_yaml(rng)
        bad = _outcome(nncli, ("config", "validate" if i % 2 else "show", "-"), stdin=text)
        if bad:
            failures.append((text, *bad))
    _check(failures)


def test_fuzzed_set_overrides_never_crash(tmp_path, nncli):
    rng = random.Random(1702)
    cfg = write(tmp_path / "iris.yaml", IRIS)
    failures = []
    for _ in range(100):
        key = rng.choice(KEYS + ["a..b", ".x", "x.", "model.hidden.0", "data.params.x.y", "=", " "])
        value = rng.choice(SCALARS)
        item = rng.choice([f"{key}={value}", f"{key}{value}", f"{key}={value}={value}", value])
        bad = _outcome(nncli, ("config", "validate", cfg, "--set", item))
        if bad:
            failures.append((item, *bad))
    _check(failures)


# ---------------------------------------------------------------- run files
def _random_json_value(rng: random.Random, depth: int = 0):
    choices = [None, True, 3, -1, 0, 10 ** 12, 2.5, float("nan"), 1e308, "x", "", "finished", "running", "\x00"]
    if depth < 2:
        choices += [[], {}, "list", "dict"]
    v = rng.choice(choices)
    if v == "list":
        return [_random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if v == "dict":
        keys = ["train", "validation", "test", "accuracy", "loss", "r2", "at", "epoch", "seconds"]
        return {rng.choice(keys): _random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return v


def test_fuzzed_summaries_never_crash_runs_or_resume(iris_run, tmp_path, nncli):
    rng = random.Random(1703)
    failures = []
    original = json.loads((iris_run[1] / "summary.json").read_text())
    for i in range(30):
        root, run = _copy_run(iris_run, tmp_path, i)
        if rng.random() < 0.2:
            text = rng.choice(["", "[", "null", "[1, 2]", '"x"', "{" * 5000, "\x00\x01"])
        else:
            summary = dict(original)
            for _ in range(rng.randint(1, 5)):
                summary[rng.choice(list(original) + ["dir", "extra"])] = _random_json_value(rng)
            text = json.dumps(summary)
        (run / "summary.json").write_text(text)
        for args in (("runs", root, "--json"), ("runs", root, "--sort", rng.choice(
                ["val", "test", "time", "lr", "name", "status"])), ("train", "--resume", run, "--runs-dir", root,
                                                                    "--quiet")):
            if args[0] == "train" and i % 4:
                continue  # resuming a finished run writes its files again: a quarter of the cases
            bad = _outcome(nncli, args)
            if bad:
                failures.append((text[:200], *bad))
    _check(failures)


# offsets of the fields of a zip's central-directory entry (PK\1\2) and local header (PK\3\4):
# flags, compression method, CRC, sizes, name and extra-field lengths, the local header's offset
_ZIP_FIELDS = {b"PK\x01\x02": (8, 10, 16, 20, 24, 28, 30, 42), b"PK\x03\x04": (6, 8, 14, 18, 22, 26, 28)}
_ZIP_VALUES = (0x1, 0x20, 0x41, 0x8, 99, 12, 14, 0xFFFF, 0, 7)
# the ones that once escaped as tracebacks: encrypted, "compressed patched data", an unknown
# compression method, sizes that disagree with the data
_ZIP_KNOWN = ((b"PK\x01\x02", 8, 0x1), (b"PK\x01\x02", 8, 0x20), (b"PK\x01\x02", 10, 99),
              (b"PK\x01\x02", 10, 14), (b"PK\x01\x02", 24, 7), (b"PK\x03\x04", 26, 0xFFFF))
# edits of the text of an npy header (a Python dict literal that numpy parses)
_NPY_EDITS = ((b"'descr'", b"'''descr'"), (b"'shape': (", b"'shape': (("), (b"'shape': (", b"'shape': (10**12, "),
              (b"'shape': (", b"'shape': (-1, "), (b"'<f", b"'|O"), (b"'<f", b"'>c"), (b"False", b"Fals"),
              (b"'fortran_order'", b"'x'"), (b"}", b"#"), (b"\x93NUMPY\x01", b"\x93NUMPY\x03"),
              (b"'shape': ", b"'shape': 1e9, 'y': "), (b"'descr': '", b"'descr': '\\"))


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    op = rng.random()
    if op < 0.25:
        return bytes(data[:rng.randrange(len(data))])
    if op < 0.55:  # one field of every zip header of one kind: flags, methods, sizes, names
        if rng.random() < 0.5:
            sig, field, value = rng.choice(_ZIP_KNOWN)
        else:
            sig = rng.choice(list(_ZIP_FIELDS))
            field, value = rng.choice(_ZIP_FIELDS[sig]), rng.choice(_ZIP_VALUES)
        at = data.find(sig)
        while at != -1 and at + field + 2 <= len(data):
            data[at + field:at + field + 2] = value.to_bytes(2, "little")
            at = data.find(sig, at + 4)
        return bytes(data)
    if op < 0.85:  # the npy headers (members are stored: their text is in the file as is)
        old, new = rng.choice(_NPY_EDITS)
        return bytes(data).replace(old, new, rng.randint(1, 3))
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _random_array(rng: random.Random):
    shape = tuple(rng.choice([0, 1, 2, 3]) for _ in range(rng.randint(0, 3)))
    dtype = rng.choice([np.float32, np.float64, np.int64, np.bool_, np.complex64, "U3", "S2", np.uint8])
    a = np.zeros(shape, dtype)
    if a.dtype.kind == "f" and a.size:
        a.flat[0] = rng.choice([np.nan, np.inf, 1e30, -1.0])
    return a


def _mutate_arrays(rng: random.Random, path: Path) -> None:
    from nncli.atomic import load_npz, save_npz

    arrays = load_npz(path)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(sorted(arrays))
        op = rng.random()
        if op < 0.3:
            del arrays[key]
        elif op < 0.6:
            arrays[key] = _random_array(rng)
        elif key.endswith("meta") or key == "config":
            try:
                obj = json.loads(str(arrays[key]))
            except ValueError:
                obj = {}
            if isinstance(obj, dict) and obj:
                obj[rng.choice(sorted(obj))] = _random_json_value(rng)
            arrays[key] = np.array(json.dumps(obj))
        else:
            a = arrays[key]
            arrays[key] = a.reshape(-1)[::-1].copy() if a.size else a
    save_npz(path, arrays)


@pytest.mark.parametrize("target", ["model.npz", "checkpoint.npz"])
def test_fuzzed_run_files_never_crash(target, iris_run, tmp_path, nncli):
    rng = random.Random(1704 if target == "model.npz" else 1705)
    features = write(tmp_path / "features.csv", f"{HEADER}\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    failures = []
    for i in range(30):
        root, run = _copy_run(iris_run, tmp_path, i)
        path = run / target
        if rng.random() < 0.6:
            path.write_bytes(_mutate_bytes(rng, path.read_bytes()))
        else:
            _mutate_arrays(rng, path)
        if target == "checkpoint.npz" and rng.random() < 0.5:  # no fallback: the damage must be handled
            (run / "checkpoint.prev.npz").unlink(missing_ok=True)
        commands = [("evaluate", run, "--runs-dir", root), ("predict", run, "--input", features, "--runs-dir", root)] \
            if target == "model.npz" else [("train", "--resume", run, "--runs-dir", root, "--quiet")]
        for args in commands:
            bad = _outcome(nncli, args)
            if bad:
                failures.append((f"case {i}", *bad))
    _check(failures)


# ---------------------------------------------------------------- data files
CELLS = ["1", "0", "-2.5", "1e308", "-1e308", "inf", "-inf", "nan", "NaN", "", " ", "x", "setosa", "1,5", '"1"',
         "0x10", "1e-320", "\x00", "\ufeff", "é", "'=1+1"]


def _random_csv(rng: random.Random) -> str:
    n_cols = rng.choice([1, 2, 4, 5, 7])
    names = HEADER.split(",") + ["label", "species", "x", ""]
    header = [rng.choice(names) for _ in range(n_cols)]
    rows = []
    for _ in range(rng.choice([0, 1, 2, 3, 12])):
        width = n_cols if rng.random() < 0.9 else rng.randint(0, n_cols + 2)
        rows.append(",".join(rng.choice(CELLS) for _ in range(width)))
    sep = rng.choice(["\n", "\r\n", "\n\n"])
    return rng.choice(["", "\ufeff"]) + ",".join(header) + sep + sep.join(rows) + rng.choice(["", sep])


def _random_npz(rng: random.Random, path: Path) -> None:
    n = rng.choice([0, 1, 3, 12])
    arrays = {}
    if rng.random() < 0.9:
        arrays["X"] = rng.choice([np.zeros((n, 4)), np.zeros((n, 0)), np.zeros(n), np.zeros((n, 2, 2)),
                                  np.full((n, 4), np.inf), np.full((n, 4), 1e308), np.zeros((n, 4), "U2"),
                                  np.zeros((n, 4), np.complex64), np.ones((n, 4), bool)])
    if rng.random() < 0.9:
        arrays["y"] = rng.choice([np.arange(n) % 3, np.zeros((n, 0)), np.zeros(n + 1), np.array(["a"] * n),
                                  np.full(n, np.nan), np.arange(n).reshape(n, 1) % 2])
    if rng.random() < 0.1:
        arrays["extra"] = np.zeros(2)
    np.savez(path, **arrays)
    if rng.random() < 0.3:
        path.write_bytes(_mutate_bytes(rng, path.read_bytes()))


def test_fuzzed_data_files_never_crash(iris_run, tmp_path, nncli):
    rng = random.Random(1706)
    root, run = iris_run
    failures = []
    for i in range(40):
        if rng.random() < 0.6:
            path = tmp_path / f"data{i}.csv"
            path.write_bytes(_random_csv(rng).encode("utf-8", "surrogatepass"))
        else:
            path = tmp_path / f"data{i}.npz"
            _random_npz(rng, path)
        commands = [("evaluate", run, "--data", path, "--runs-dir", root)]
        if path.suffix == ".csv":
            commands.append(("predict", run, "--input", path, "--runs-dir", root))
        if i % 5 == 0:  # training is the slow one: a fifth of the files
            commands.append(("train", write(tmp_path / "t.yaml", IRIS), "--set", f"data.path='{path}'",
                             "--set", "training.epochs=1", "--set", "data.validation=0", "--set", "data.test=0",
                             "--runs-dir", tmp_path / "runs", "--quiet"))
        for args in commands:
            bad = _outcome(nncli, args)
            if bad:
                failures.append((path.read_bytes()[:120], *bad))
    _check(failures)


# ---------------------------------------------------------------- a few real processes
@pytest.mark.slow
def test_fuzzed_cases_through_real_processes(iris_run, tmp_path):
    rng = random.Random(1707)
    root, run = iris_run
    cases = [(["config", "validate", "-"], _random_yaml(rng)) for _ in range(3)]
    damaged = Path(shutil.copytree(run, tmp_path / "runs" / run.name))
    (damaged / "model.npz").write_bytes(_mutate_bytes(rng, (damaged / "model.npz").read_bytes()))
    (damaged / "summary.json").write_text('{"final": "x", "status": 3, "resumed": 5}')
    cases += [(["evaluate", str(damaged), "--runs-dir", str(tmp_path / "runs")], ""),
              (["runs", str(tmp_path / "runs")], "")]
    for args, stdin in cases:
        p = subprocess.run([sys.executable, "-m", "nncli", *args], input=stdin.encode("utf-8", "surrogatepass"),
                           capture_output=True, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode in HANDLED and "Traceback" not in err, (args, stdin, p.returncode, err)
