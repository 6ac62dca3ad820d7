"""A CSV is parsed a piece at a time: the table is the same whatever the piece size, every byte
is read once, and reading neither imports pandas nor makes unwritten memory resident."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys

import numpy as np
import pytest

from nncli.data import DataOptions, arrowread, encode_splits, load_dataset, pages
from nncli.data.encode import TableEncoder
from nncli.data.preprocess import Preprocessor
from nncli.data.source import open_source


def mixed_csv(rows: int = 600) -> str:
    """Every kind of column, with what only shows up far down the file: a fraction in a
    column of whole numbers, words in a column that began with numbers, blank lines, CRLF
    endings."""
    rng = np.random.default_rng(0)
    lines = ["id,x,city,flag,day,late,code,y"]
    for i in range(rows):
        x = "" if i % 7 == 0 else ("NA" if i % 11 == 0 else f"{rng.normal():.6g}")
        city = ["Oslo", "Lima", "", "Kyiv"][i % 4]
        flag = ["true", "false", ""][i % 3]
        day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" if i % 13 else ""
        late = "1.5" if i == rows // 2 else str(i % 5)
        code = str(i % 9) if i < 100 else ["red", "blue"][i % 2]
        lines.append(f"{i},{x},{city},{flag},{day},{late},{code},{i % 2}")
        if i % 97 == 5:
            lines.append("")
    return "\r\n".join(lines) + "\r\n"


def read(path_or_bytes, name="t.csv"):
    if isinstance(path_or_bytes, bytes):
        src = open_source(path="-", stream=io.BytesIO(path_or_bytes))
    else:
        src = open_source(path=path_or_bytes)
    return src.read(src.names, {})


def assert_same_table(a, b):
    assert a.n_rows == b.n_rows and list(a.columns) == list(b.columns)
    for name in a.columns:
        ca, cb = a.columns[name], b.columns[name]
        assert ca.kind == cb.kind, name
        np.testing.assert_array_equal(ca.values, cb.values, err_msg=name)
        if ca.levels is not None:
            assert list(ca.levels) == list(cb.levels), name


@pytest.fixture
def small_pieces(monkeypatch):
    """Blocks of a few rows and pieces of a few blocks: hundreds of pieces for a small file."""
    monkeypatch.setattr(arrowread, "BLOCK", 64)
    monkeypatch.setattr(arrowread, "PIECE", 64)


@pytest.mark.parametrize("form", ["csv", "gz", "stdin"])
def test_many_small_pieces_read_the_same_table_as_one(tmp_path, monkeypatch, form):
    text = mixed_csv()
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode())
    whole = read(path)
    assert whole.n_rows == 600
    assert [whole.columns[c].kind for c in whole.columns] == [
        "number", "number", "text", "bool", "date", "number", "text", "number"]
    assert np.isnan(whole.columns["x"].values).sum() == len([i for i in range(600) if i % 7 == 0 or i % 11 == 0])
    assert whole.columns["late"].values[300] == 1.5
    monkeypatch.setattr(arrowread, "BLOCK", 64)
    monkeypatch.setattr(arrowread, "PIECE", 64)
    calls = []
    import pyarrow.csv as pacsv

    original = pacsv.read_csv
    monkeypatch.setattr(pacsv, "read_csv", lambda *a, **k: calls.append(1) or original(*a, **k))
    if form == "gz":
        with gzip.open(tmp_path / "d.csv.gz", "wb") as f:
            f.write(text.encode())
        pieces = read(tmp_path / "d.csv.gz")
    elif form == "stdin":
        pieces = read(text.encode())
    else:
        pieces = read(path)
    assert len(calls) > 20  # really read in many pieces
    assert_same_table(whole, pieces)


def test_quoted_line_breaks_are_read_as_one_stream_whatever_the_piece_size(tmp_path, small_pieces):
    rows = ["note,a,y"] + [f'"line {i}\nmore {i}",{i},{i % 2}' for i in range(200)]
    (tmp_path / "q.csv").write_text("\n".join(rows) + "\n")
    t = read(tmp_path / "q.csv")
    assert t.n_rows == 200
    assert t.columns["note"].cells([7]) == ["line 7\nmore 7"]
    np.testing.assert_array_equal(t.columns["a"].values, np.arange(200))


@pytest.mark.parametrize("kind", ["plain", "gz", "bytes"])
def test_pieces_end_at_line_breaks_and_hold_every_byte_once(tmp_path, kind):
    lines = [b"a,b"] + [b"%d,%d" % (i, i * i) for i in range(500)] + [b"9," + b"7" * 5000, b"1,2", b"3,4"]
    text = b"\n".join(lines)  # no line break at the very end
    path = tmp_path / ("t.csv.gz" if kind == "gz" else "t.csv")
    if kind == "gz":
        path.write_bytes(gzip.compress(text))
    else:
        path.write_bytes(text)
    pieces = [bytes(p) for p in arrowread._pieces(text if kind == "bytes" else path, 1000)]
    assert b"".join(pieces) == text
    assert len(pieces) > 5
    assert all(p.endswith(b"\n") for p in pieces[:-1])  # the 5000-byte line is one piece's end
    assert max(len(p) for p in pieces) >= 5000


def test_reading_a_csv_does_not_import_pandas(tmp_path):
    """pyarrow's to_numpy imports pandas when it is installed (half a second)."""
    import importlib.util

    assert importlib.util.find_spec("pandas") is not None  # installed by the test extra
    (tmp_path / "d.csv").write_text(mixed_csv(50))
    code = ("import sys; from nncli.data.source import open_source; s = open_source(path=sys.argv[1]); "
            "t = s.read(s.names, {}); print(t.n_rows, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d.csv")], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["50", "False"]


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_the_store_is_resident_only_where_written():
    """NumPy asks for huge pages for large arrays: a (50, 1e6) np.empty store grows by 400 MB
    when its first 1000 rows are written; the reader's store grows by what was written."""
    before = _rss()
    store = pages.untouched((50, 1_000_000))
    store[:, :1000] = 1.0
    grown = _rss() - before
    assert store.dtype == np.float64 and store.flags.writeable and store.shape == (50, 1_000_000)
    assert grown < 16 << 20, f"{grown >> 20} MiB resident for 0.4 MB written"
    assert (store[:, :1000] == 1.0).all()


def test_encoding_rows_in_any_order_puts_each_row_where_it_was_asked(tmp_path):
    (tmp_path / "d.csv").write_text(mixed_csv(300))
    src = open_source(path=tmp_path / "d.csv")
    table = src.read(src.names, {})
    enc = TableEncoder([("x", "number"), ("city", "category"), ("day", "date"), ("flag", "binary")],
                       min_frequency=1).fit(table, np.arange(200))
    bound = enc.bind(table)
    prep = Preprocessor("standard").fit(bound.block(np.arange(200)), enc.binary)
    rows = np.random.default_rng(1).permutation(300)
    shuffled = encode_splits(bound, prep, {"a": rows}, "float64")["a"]
    ordered = encode_splits(bound, prep, {"a": np.arange(300)}, "float64")["a"]
    np.testing.assert_array_equal(shuffled, ordered[rows])
    np.testing.assert_array_equal(ordered[:5], prep.transform(bound.block(np.arange(5)), "float64"))


def test_a_whole_load_in_small_pieces_equals_one_piece(tmp_path, monkeypatch):
    (tmp_path / "d.csv").write_text(mixed_csv())
    args = dict(dataset=None, path=str(tmp_path / "d.csv"), label="y", params={}, task=None, validation=0.2,
                test=0.2, scaling="standard", polynomial=1, subset=None, seed=0, dtype="float32",
                options=DataOptions(label="y", drop=["id"], min_frequency=1))
    one = load_dataset(**args)
    monkeypatch.setattr(arrowread, "BLOCK", 64)
    monkeypatch.setattr(arrowread, "PIECE", 64)
    many = load_dataset(**args)
    for split in ("X_train", "X_val", "X_test", "y_train", "y_test"):
        np.testing.assert_array_equal(getattr(one, split), getattr(many, split), err_msg=split)
