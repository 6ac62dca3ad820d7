"""Hostile and broken data files: each ends with exit 4 and one line naming the file and what
was expected (or, where the file is merely unusual, trains); interrupts during loading stop
within a second."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import write

ROWS = "".join(f"{i % 7},{(i * 3) % 11},{'a' if i % 2 else 'b'}\n" for i in range(40))


def train(nncli, tmp_path, data_name: str, extra: str = ""):
    cfg = write(tmp_path / "c.yaml", f"data: {{path: {data_name}{extra}}}\ntraining: {{epochs: 2}}\n")
    return nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")


def one_line_error(r, *fragments):
    assert r.code == 4, (r.code, r.err)
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err
    for f in fragments:
        assert f in r.err, r.err
    assert not (Path(r.err).parent / "runs").exists()


def test_a_hundred_thousand_column_header_is_refused_by_its_width(tmp_path, nncli):
    names = ",".join(f"c{i}" for i in range(100_000))
    (tmp_path / "wide.csv").write_text(names + "\n" + ",".join(["1"] * 100_000) + "\n")
    r = train(nncli, tmp_path, "wide.csv")
    one_line_error(r, "wide.csv: the header has 100000 columns, more than the 50000")
    assert "polynomial" not in r.err


def test_binary_garbage_named_csv(tmp_path, nncli):
    (tmp_path / "junk.csv").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    one_line_error(train(nncli, tmp_path, "junk.csv"), "junk.csv: binary data (NUL bytes)")


def test_a_column_of_a_million_distinct_strings_looks_like_an_identifier(tmp_path, nncli):
    n = 1_000_000
    with open(tmp_path / "ids.csv", "w") as f:
        f.write("name,x,y\n")
        f.writelines(f"user{i},{i % 10},{i % 2}\n" for i in range(n))
    one_line_error(train(nncli, tmp_path, "ids.csv"),
                   f"ids.csv: column name ({n} distinct values in {n} rows) looks like an identifier",
                   "data.drop")


def test_an_all_empty_column_is_dropped_with_a_note_and_an_empty_label_refused(tmp_path, nncli):
    write(tmp_path / "e.csv", "a,empty,b,y\n" + "".join(f"{i},,{i % 3},{i % 2}\n" for i in range(40)))
    cfg = write(tmp_path / "c.yaml", "data: {path: e.csv}\ntraining: {epochs: 2}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--no-progress")
    assert r.code == 0, r.err
    assert "dropped: empty (empty in every row)" in r.err
    write(tmp_path / "e.csv", "a,b,y\n" + "".join(f"{i},{i % 3},\n" for i in range(40)))
    one_line_error(train(nncli, tmp_path, "e.csv"), "e.csv: the label column 'y' is empty in every row")
    write(tmp_path / "e.csv", "a,y\n" + "".join(f",{i % 2}\n" for i in range(40)))
    one_line_error(train(nncli, tmp_path, "e.csv"), "e.csv: no usable input column (dropped: a (empty in every row))")


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path, nncli):
    (tmp_path / "bom.csv").write_bytes(("\ufeffx,z,y\n" + ROWS).encode("utf-8"))
    r = train(nncli, tmp_path, "bom.csv", ", label: y, features: [x, z]")
    assert r.code == 0, r.err


def test_a_semicolon_file_with_decimal_commas_is_read(tmp_path, nncli):
    body = "".join(f"{i % 7},5;{i % 3};{'a' if i % 2 else 'b'}\n" for i in range(40))
    write(tmp_path / "semi.csv", "x;z;y\n" + body)
    cfg = write(tmp_path / "c.yaml", "data: {path: semi.csv}\ntraining: {epochs: 2}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 0, r.err
    import json

    assert json.loads(r.out)["data"]["inputs"] == {"x": "number", "z": "number"}


def test_a_header_only_csv(tmp_path, nncli):
    write(tmp_path / "h.csv", "a,b,y\n")
    one_line_error(train(nncli, tmp_path, "h.csv"), "h.csv: no data rows after the header")


def test_a_csv_symlinked_to_dev_zero_and_a_fifo_are_refused_at_once(tmp_path, nncli):
    os.symlink("/dev/zero", tmp_path / "zero.csv")
    one_line_error(train(nncli, tmp_path, "zero.csv"), "zero.csv: is a device or socket, not a file")
    os.mkfifo(tmp_path / "pipe.csv")
    one_line_error(train(nncli, tmp_path, "pipe.csv"), "pipe.csv: is a pipe (FIFO)")


def _npz_with_header(path: Path, shape, data: bytes, dtype="<f8"):
    """An .npz whose X.npy header declares ``shape`` but holds ``data``."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("X.npy", buf.getvalue() + data)
        y = io.BytesIO()
        np.lib.format.write_array(y, np.zeros(4))
        z.writestr("y.npy", y.getvalue())


def test_npz_arrays_are_checked_before_anything_is_allocated(tmp_path, nncli):
    _npz_with_header(tmp_path / "huge.npz", (10**12, 4), b"\0" * 64)
    one_line_error(train(nncli, tmp_path, "huge.npz"), "huge.npz: array 'X' is truncated or damaged",
                   "declares (1000000000000, 4)")
    # a consistent archive that declares more than the machine has
    n = 10**7
    info_size = 1 << 40

    class Big(zipfile.ZipInfo):
        pass

    _npz_with_header(tmp_path / "big.npz", (info_size // 8,), b"")
    with zipfile.ZipFile(tmp_path / "big.npz") as z:
        assert z.getinfo("X.npy").file_size < n  # small on disk
    r = train(nncli, tmp_path, "big.npz")
    assert r.code == 4 and "big.npz: array 'X'" in r.err


def test_truncated_npz_is_called_truncated(tmp_path, nncli):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.ones((50, 3)), y=np.arange(50) % 2)
    data = good.read_bytes()
    for cut in (3, len(data) // 2, len(data) - 10):
        (tmp_path / "t.npz").write_bytes(data[:cut])
        r = train(nncli, tmp_path, "t.npz")
        one_line_error(r, "t.npz: truncated")
        assert "pickle" not in r.err


@pytest.mark.parametrize("arrays, says", [
    ({"X": np.ones((5, 0)), "y": np.arange(5) % 2}, "X has no feature columns"),
    ({"X": np.ones((5, 2)), "y": np.ones((5, 0))}, "y has no target columns"),
])
def test_npz_with_empty_axes(tmp_path, nncli, arrays, says):
    np.savez(tmp_path / "e.npz", **arrays)
    one_line_error(train(nncli, tmp_path, "e.npz"), f"e.npz: {says}")


def test_huge_finite_values_are_refused_naming_the_rows(tmp_path, nncli):
    write(tmp_path / "d.csv", "a,b,y\n" + ROWS.replace(",", ";", 0))
    write(tmp_path / "d.csv", "a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)))
    cfg = write(tmp_path / "c.yaml", "data: {path: d.csv}\ntraining: {epochs: 2}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = r.out.strip()
    write(tmp_path / "big.csv", "a,b,y\n1,2,0\n1e308,2,1\n3,-1e308,0\n")
    for command in (("predict", run, "--input", tmp_path / "big.csv"),
                    ("evaluate", run, "--data", tmp_path / "big.csv")):
        r = nncli(*command)
        assert r.code == 4, r.err
        assert "big.csv: row 3, row 4: input 'a' is too large for this model" in r.err
        assert len(r.err.strip().splitlines()) == 1 and "nan" not in r.out.lower()
    # in training: named by column when it breaks the scaler (a training row), else by row
    for at in range(3):
        rows = [f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)]
        rows[at * 13] = "1e308,1,0\n"
        write(tmp_path / "d.csv", "a,b,y\n" + "".join(rows))
        r = train(nncli, tmp_path, "d.csv")
        one_line_error(r, "d.csv: ", "'a'", "too large")


def test_a_duplicate_in_a_wide_header_is_named(tmp_path, nncli):
    names = [f"c{i}" for i in range(40_000)] + ["c17"]
    (tmp_path / "dup.csv").write_text(",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n")
    one_line_error(train(nncli, tmp_path, "dup.csv"), "dup.csv: duplicate column name(s) in the header: c17")


# ---------------------------------------------------------------- signals while loading
def _start(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_until(proc, ready, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.02)


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _stops_within_a_second(proc, sig, code):
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"
    return err


@pytest.mark.slow
def test_ctrl_c_while_loading_a_40000_column_csv_exits_130_within_a_second(tmp_path):
    names = ",".join(f"c{i}" for i in range(40_000))
    row = ",".join(["1.5"] * 40_000)
    with open(tmp_path / "wide.csv", "w") as f:
        f.write(names + "\n")
        for i in range(200):
            f.write(row[:-3] + f"{i % 2}\n")
    cfg = write(tmp_path / "c.yaml", "data: {path: wide.csv}\n")
    proc = _start(["train", cfg, "--runs-dir", tmp_path / "runs", "--quiet"])
    _wait_until(proc, lambda: _has_open(proc.pid, tmp_path / "wide.csv"))  # the parser is reading it
    err = _stops_within_a_second(proc, signal.SIGINT, 130)
    assert "while loading the data" in err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_sigterm_while_predict_waits_on_a_pipe_exits_143_within_a_second(tmp_path, nncli):
    write(tmp_path / "d.csv", "a,b,y\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)))
    cfg = write(tmp_path / "c.yaml", "data: {path: d.csv}\ntraining: {epochs: 2}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    proc = _start(["predict", r.out.strip(), "--input", fifo])
    writer = []

    def reading():  # a writer can open the pipe only once predict has opened it to read
        try:
            writer.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return False
        return True

    _wait_until(proc, reading)  # predict now waits for bytes that never come
    try:
        err = _stops_within_a_second(proc, signal.SIGTERM, 143)
    finally:
        os.close(writer[0])
    assert "while loading the data" in err
