"""Column roles (label, inputs, ID, sample weights, dropped) and the type each input is
encoded as: what the ``data`` section says, and what the data shows where it says nothing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from nncli.data.names import MISSING_VALUES
from nncli.data.table import Table
from nncli.errors import DataError

READ_KIND = {"number": "number", "category": "text", "binary": "bool", "date": "date"}


@dataclass
class DataOptions:
    """The ``data`` section's column keys, as plain values (``build`` fills them in)."""

    label: str | None = None
    features: list[str] | None = None
    drop: list[str] = field(default_factory=list)
    id: str | None = None
    weight: str | None = None
    types: dict[str, str] = field(default_factory=dict)
    missing_values: tuple = MISSING_VALUES
    impute: str = "mean"
    impute_categories: str = "missing"
    missing_indicator: bool = False
    max_categories: int = 50
    min_frequency: int = 5
    dates: str = "expand"
    delimiter: str | None = None


@dataclass
class Roles:
    label: str
    inputs: list[str]
    id: str | None = None
    weight: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why

    def read_kinds(self, opts: DataOptions) -> dict[str, str | None]:
        kinds = {c: READ_KIND.get(opts.types.get(c)) for c in self.inputs}
        if self.id:
            kinds[self.id] = "text"  # passed through as written
        if self.weight:
            kinds[self.weight] = "number"
        kinds[self.label] = "label"  # numbers if every value is one, else classes
        return kinds


def _listing(names: list[str], limit: int = 20) -> str:
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def missing_columns(source: str, wanted: list[tuple[str, str]], names: list[str], what: str) -> None:
    """One error naming every wanted column the file lacks: [(column, where it is asked for)]."""
    have = set(names)
    lacking = [(c, key) for c, key in wanted if c not in have]
    if not lacking:
        return
    parts = []
    for c, key in lacking:
        hint = difflib.get_close_matches(c, names, n=1)
        parts.append(f"'{c}'" + (f" ({key})" if key else "") + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    raise DataError(f"{source}: no column{'s' if len(lacking) > 1 else ''} {', '.join(parts)}; {what}; "
                    f"the file has {_listing(names)}")


def assign_roles(source: str, names: list[str], opts: DataOptions, label_name: str | None) -> Roles:
    """Which column is what. ``label_name``: the label of an .npz or a named dataset."""
    if label_name is not None:
        if opts.label not in (None, label_name):
            raise DataError(f"data.label: {source} keeps its label in array '{label_name}'; "
                            f"expected null or '{label_name}', got '{opts.label}'")
        label = label_name
    else:
        label = opts.label or names[-1]
    if len(names) < 2:
        raise DataError(f"{source}: expected at least 2 columns (features and a label), got {len(names)}")
    wanted = [(label, "data.label")] if opts.label else []
    wanted += [(c, "data.features") for c in opts.features or []]
    wanted += [(c, "data.drop") for c in opts.drop]
    wanted += [(c, f"data.{k}") for k, c in (("id", opts.id), ("weight", opts.weight)) if c]
    wanted += [(c, "data.types") for c in opts.types]
    missing_columns(source, wanted, names, "check the names in the data section")
    special = {k: v for k, v in (("data.label", label), ("data.id", opts.id), ("data.weight", opts.weight)) if v}
    for key, col in special.items():
        for other, listed in (("data.features", opts.features or []), ("data.drop", opts.drop)):
            if col in listed:
                raise DataError(f"{other}: '{col}' is {key}; a column has one role")
    if opts.id and opts.id in (label, opts.weight) or opts.weight and opts.weight == label:
        raise DataError(f"data: '{opts.id if opts.id in (label, opts.weight) else opts.weight}' "
                        "has two roles (label, id, weight); give each its own column")
    both = sorted(set(opts.features or []) & set(opts.drop))
    if both:
        raise DataError(f"data.drop: {', '.join(both)} also listed in data.features; choose one")
    taken = set(special.values()) | set(opts.drop)
    inputs = list(opts.features) if opts.features else [c for c in names if c not in taken]
    dropped = {c: "data.drop" for c in opts.drop}
    if opts.features:
        dropped.update({c: "not in data.features" for c in names if c not in taken and c not in inputs})
    if opts.id:
        dropped[opts.id] = "data.id, passed through by predict"
    if opts.weight:
        dropped[opts.weight] = "data.weight, sample weights"
    bad = sorted(set(opts.types) - set(inputs))
    if bad:
        raise DataError(f"data.types: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not an input "
                        "column (label, id, weight or dropped)")
    if not inputs:
        raise DataError(f"{source}: no input columns left after data.drop, data.id and data.weight")
    return Roles(label, inputs, opts.id, opts.weight, dropped)


def decide_types(table: Table, roles: Roles, opts: DataOptions) -> list[tuple[str, str]]:
    """(column, number | category | binary | date) for each input that is kept; the others go
    to ``roles.dropped`` with the reason. Columns that look like identifiers are refused, all
    named in one message."""
    kept, ids = [], []
    for name in roles.inputs:
        col = table.columns[name]
        forced = opts.types.get(name)
        n_missing = table.n_missing(name)
        if n_missing == table.n_rows:
            roles.dropped[name] = "empty in every row"
            continue
        if col.kind == "text":
            distinct = len(col.levels)
            present = table.n_rows - n_missing
            if forced != "category" and distinct > opts.max_categories and distinct > present / 2:
                ids.append(f"{name} ({distinct} distinct values in {present} rows)")
                continue
            kept.append((name, "category"))
        elif col.kind == "bool":
            kept.append((name, "binary"))
        elif col.kind == "date":
            if opts.dates == "drop":
                roles.dropped[name] = "a date (data.dates: drop)"
                continue
            kept.append((name, "date"))
        else:
            kept.append((name, "number"))
    if ids:
        raise DataError(f"{table.source}: column{'s' if len(ids) > 1 else ''} {'; '.join(ids)} "
                        f"look{'' if len(ids) > 1 else 's'} like an identifier or free text, not categories: "
                        "list it in data.drop (or name it data.id), or set data.types.<column>: category "
                        f"to one-hot encode its {opts.max_categories} most frequent values")
    if not kept:
        raise DataError(f"{table.source}: no usable input column (dropped: "
                        f"{', '.join(f'{c} ({why})' for c, why in roles.dropped.items())})")
    return kept


def describe(table: Table, roles: Roles, kept: list[tuple[str, str]], encoder, label_note: str,
             n_unlabeled: int) -> list[str]:
    """One or two lines for the terminal: what each column became, and what was dropped."""
    by_type: dict[str, list[str]] = {}
    for (name, typ), code in zip(kept, encoder.codes):
        if typ == "category":
            extra = " + missing" if code.missing == "column" else ""
            extra += f" + {len(code.other)} rare" if len(code.other) else ""
            by_type.setdefault(typ, []).append(f"{name}: {len(code.categories)}{extra}")
        else:
            by_type.setdefault(typ, []).append(name)
    plural = {"number": "numbers", "category": "categories", "binary": "booleans", "date": "dates"}
    single = {"number": "number", "category": "category", "binary": "boolean", "date": "date"}
    parts = [f"{len(v)} {plural[t] if len(v) > 1 else single[t]} ({_listing(v, 8)})"
             for t, v in sorted(by_type.items(), key=lambda kv: list(plural).index(kv[0]))]
    first = (f"{table.source}: {table.n_rows} rows; label '{roles.label}' ({label_note}); inputs: "
             f"{'; '.join(parts)} -> {len(encoder.names)} feature{'s' * (len(encoder.names) != 1)}")
    second = []
    if roles.dropped:
        second.append("dropped: " + ", ".join(f"{c} ({why})" for c, why in list(roles.dropped.items())[:10]))
    if n_unlabeled:
        second.append(f"{n_unlabeled} rows without a label left out")
    cells = sum(table.n_missing(c) for c, _ in kept)
    if cells:
        second.append(f"{cells} missing cells imputed ({opts_text(encoder)})")
    return [first] + (["; ".join(second)] if second else [])


def opts_text(encoder) -> str:
    cats = "a 'missing' category" if encoder.impute_categories == "missing" else "the most frequent category"
    return f"{encoder.impute} for numbers, {cats} for categories"


def label_summary(task: str, classes, y: np.ndarray) -> str:
    if task == "classification":
        return f"{len(classes)} classes"
    return "numbers" if y.ndim == 1 or y.shape[1] == 1 else f"{y.shape[1]} targets"
