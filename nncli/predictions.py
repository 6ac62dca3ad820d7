"""Predictions as files: CSV (or TSV), JSON lines, a JSON array or Parquet, chosen by the output
file's extension (or ``--json``); an extension nncli does not write is refused, never
silently written as CSV.

Probabilities are rounded to 6 decimals in text formats (enough to rank and threshold; the
float noise beyond is not information); values are written with the shortest text that reads
back to the model's float type. Parquet keeps the numbers as they are.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from nncli.errors import UsageError
from nncli.inference import Predictions
from nncli.metricscsv import safe_cell

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
           ".parquet": "parquet", ".pq": "parquet"}
DECIMALS = 6


def output_format(output: Path | None, as_json: bool) -> str:
    """csv | tsv | jsonl | json | parquet for ``--output`` and ``--json``, or a UsageError."""
    if output is None:
        return "jsonl" if as_json else "csv"
    suffix = Path(output).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise UsageError(f"--output {output}: unknown format '{suffix or '(no extension)'}'; expected "
                         f"one of {', '.join(FORMATS)}")
    if as_json and fmt not in ("jsonl", "json"):
        raise UsageError(f"--json writes JSON lines, but --output {output} asks for {fmt}: "
                         "drop --json or name a .jsonl file")
    return fmt


def _value(x, dtype: str):
    """A prediction as the shortest number that reads back to the model's float type."""
    return float(str(np.float32(x))) if dtype == "float32" else float(x)


def _records(pred: Predictions):
    """Rows as lists of plain Python values (probabilities rounded)."""
    cols = []
    for name, values in pred.columns.items():
        if name in pred.probabilities:
            cols.append([round(float(v), DECIMALS) for v in values])
        elif isinstance(values, np.ndarray) and values.dtype.kind == "f":
            cols.append([_value(v, pred.dtype) for v in values])
        else:
            cols.append(list(values))
    return zip(*cols)


def render(pred: Predictions, fmt: str) -> bytes:
    names = list(pred.columns)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({n: pa.array(v if not isinstance(v, np.ndarray) else v) for n, v in pred.columns.items()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    if fmt in ("jsonl", "json"):
        lines = [json.dumps(dict(zip(names, row)), ensure_ascii=False) for row in _records(pred)]
        text = "\n".join(lines) + "\n" if fmt == "jsonl" else "[\n" + ",\n".join(lines) + "\n]\n"
        return text.encode("utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow([safe_cell(n) for n in names])
    probs = {names.index(n) for n in pred.probabilities}
    for row in _records(pred):
        writer.writerow([f"{v:.{DECIMALS}f}" if i in probs else safe_cell(v) for i, v in enumerate(row)])
    return buf.getvalue().encode("utf-8")
