"""Data files before parsing: what kind a path is, whether it may be read, its fingerprint,
and a CSV's header, delimiter and decimal mark sniffed from its first bytes.

Every problem is a one-line DataError naming the file and what was expected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nncli.data.names import DELIMITERS, FILE_TYPES, MAX_COLUMNS, file_type
from nncli.errors import DataError

SNIFF_BYTES = 1 << 16
MAX_HEADER_BYTES = 16 << 20  # a header line longer than this is not a header
MAX_STREAM_BYTES = 2 << 30  # read at most this much from a pipe or standard input


def kinds() -> str:
    return ", ".join(FILE_TYPES)


def check_path(path, *, regular: bool = True) -> tuple[Path, str]:
    """(path, csv|parquet|npz) for a data file that exists and may be read.

    ``regular``: only a regular file will do (training data is read again by ``evaluate``, so
    it must be a file that stays). Otherwise a pipe is accepted too; devices never are (a
    symlink to /dev/zero would never end).
    """
    p = Path(path)
    kind = file_type(p)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, expected a data file ({kinds()})")
    if not stat.S_ISREG(st.st_mode) and (regular or not stat.S_ISFIFO(st.st_mode)):
        what = "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device or socket, not a file"
        why = (" (training data is read again by evaluate, so it must be a file)" if regular
               else " or a pipe")
        raise DataError(f"{path}: is {what}; expected a regular data file{why}")
    if kind is None:
        suffix = "".join(p.suffixes[-2:]) or "(none)"
        raise DataError(f"{path}: unsupported file type '{suffix}', expected one of {kinds()}")
    if not os.access(p, os.R_OK):
        raise DataError(f"{path}: cannot read: permission denied")
    return p, kind


def fingerprint(path) -> dict:
    """{"path", "size", "sha256"} of a file's bytes as stored (a .gz file's compressed bytes)."""
    p = Path(path)
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            buf = bytearray(1 << 20)  # one buffer: no allocation per block for the allocator to keep
            view = memoryview(buf)
            while n := f.readinto(buf):
                h.update(view[:n])  # hashlib lets other threads run while it hashes a large block
        size = os.stat(p).st_size
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    return {"path": str(p.absolute()), "size": size, "sha256": h.hexdigest()}


class Background:
    """Run a function in a thread beside the caller's work; ``result()`` waits for it."""

    def __init__(self, fn, *args):
        self._out: dict = {}
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._out["value"] = fn(*args)
        except BaseException as e:  # re-raised in the caller's thread
            self._out["error"] = e

    def result(self):
        self._thread.join()
        if "error" in self._out:
            raise self._out["error"]
        return self._out["value"]


def read_stream(stream, name: str, cancel=None, limit: int = MAX_STREAM_BYTES) -> bytes:
    """All bytes of a pipe or standard input, refusing more than ``limit``."""
    chunks, total = [], 0
    reader = getattr(stream, "buffer", stream)
    while True:
        if cancel is not None and cancel.is_set():
            raise DataError(f"{name}: reading was interrupted")
        block = reader.read(1 << 20)
        if not block:
            break
        if isinstance(block, str):
            block = block.encode("utf-8")
        total += len(block)
        if total > limit:
            raise DataError(f"{name}: more than {limit >> 20} MiB of input; save it to a file first")
        chunks.append(block)
    return b"".join(chunks)


# ---------------------------------------------------------------- CSV sniffing
@dataclass
class CsvLayout:
    names: list[str]  # column names from the header row, stripped
    delimiter: str
    decimal: str  # "." or "," (a ';'-separated file may write 1,5 for one and a half)
    header_bytes: int
    skip_rows: int = 1  # lines up to and including the header


_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def sniff_csv(path: str, head: bytes, delimiter: str | None = None) -> CsvLayout:
    """The header, delimiter and decimal mark of a CSV from its first bytes (decompressed)."""
    if not head.strip():
        raise DataError(f"{path}: empty file, expected a header row of column names")
    if b"\x00" in head[:SNIFF_BYTES]:
        raise DataError(f"{path}: binary data (NUL bytes), expected CSV text with a header row")
    end = head.find(b"\n")
    if end < 0 and len(head) >= MAX_HEADER_BYTES:
        raise DataError(f"{path}: no line break in the first {MAX_HEADER_BYTES >> 20} MiB, "
                        "expected CSV text with a header row")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a character cut at the end of the sample
            raise DataError(f"{path}: not UTF-8 text (byte 0x{head[e.start]:02x} at offset {e.start}); "
                            "save the file as UTF-8") from None
        text = head[:e.start].decode("utf-8-sig")
    raw = text.splitlines()[:200]
    lines = [line for line in raw if line.strip()][:50]
    if not lines:
        raise DataError(f"{path}: empty file, expected a header row of column names")
    skip = next(k for k, line in enumerate(raw) if line.strip()) + 1
    # a header line may be one long field when split by the wrong delimiter
    csv.field_size_limit(max(csv.field_size_limit(), MAX_HEADER_BYTES))
    if delimiter is None:
        delimiter = _guess_delimiter(path, lines)
    header = next(csv.reader(io.StringIO(lines[0]), delimiter=delimiter))
    names = [h.strip() for h in header]
    if len(names) > MAX_COLUMNS:
        raise DataError(f"{path}: the header has {len(names)} columns, more than the {MAX_COLUMNS} "
                        "nncli reads from one file; keep the columns you need in a smaller file")
    names = [n or f"column_{k + 1}" for k, n in enumerate(names)]  # unnamed: by position
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(dupes[:10])}"
                        f"{' ...' if len(dupes) > 10 else ''}; each column needs its own name")
    decimal = "."
    if delimiter == ";":
        cells = [c.strip() for line in lines[1:] for c in line.split(";")]
        if any(_DECIMAL_COMMA.match(c) for c in cells):
            decimal = ","
    return CsvLayout(names, delimiter, decimal, len(lines[0].encode("utf-8")), skip)


def _guess_delimiter(path: str, lines: list[str]) -> str:
    """The delimiter that splits the header into the most fields, where most of the first
    data rows have as many (a comma when nothing splits the header; a ragged row is then
    reported by the parser with its row number)."""
    best, best_n = ",", 1
    for d in DELIMITERS:
        counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines[:20])), delimiter=d)]
        n = counts[0] if counts else 1
        agree = sum(c == n for c in counts[1:])
        if n > best_n and agree * 2 >= len(counts) - 1:
            best, best_n = d, n
    return best


def read_head(path, kind: str, n: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a file, decompressed for .gz, enough to hold the header line."""
    opener = _gzip_open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(n)
            while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
                more = f.read(n)
                if not more:
                    break
                head += more
                n *= 2
            return head
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None


def _gzip_open(path, mode):
    import gzip

    return gzip.open(path, mode)
