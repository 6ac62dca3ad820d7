"""The ``data:`` section: where the samples come from (a built-in dataset or a file), which
columns play which role, and how they are encoded, imputed, split and scaled.

It is the largest section and the only one about files and columns, so it has a module of its
own; ``build.load_data`` hands its values to ``nncli.data``.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nncli.config.fields import FilePath, Scalar, _choice, _float, _int, _raise, _Section, _show
from nncli.config.names import DATASET_NAMES


def _none_if_off(value: Any) -> Any:
    return "none" if value is None or value is False else value


DATA_FILE_TYPES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq", ".npz")
COLUMN_TYPES = ("number", "category", "binary", "date")
MISSING_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None",
                  "#N/A", "#NA", "<NA>", "?"]
ColumnName = Annotated[str, Field(strict=True, min_length=1)]


class DataConfig(_Section):
    """Where the samples come from, which columns are what, and how they are encoded, split
    and scaled."""

    dataset: Optional[_choice(DATASET_NAMES)] = Field(
        "digits", description="Built-in dataset or generator (null when `path` is used).")
    path: Optional[FilePath] = Field(
        None, strict=True, description="A .csv (.csv.gz, .tsv), .parquet or .npz file used instead of "
                                       "`dataset`; relative to the config file's folder.")
    label: Optional[str] = Field(
        None, strict=True, description="The label column's name (default: the last column).")
    features: Optional[list[ColumnName]] = Field(
        None, description="The input columns; null: every column that has no other role.")
    drop: list[ColumnName] = Field(
        default_factory=list, description="Columns to ignore (IDs, free text, leaks of the label).")
    id: Optional[ColumnName] = Field(
        None, description="A column that identifies rows: never an input, passed through by predict.")
    weight: Optional[ColumnName] = Field(
        None, description="A column of per-row sample weights (numbers >= 0).")
    types: dict[ColumnName, _choice(COLUMN_TYPES)] = Field(
        default_factory=dict, description="Column -> number, category, binary or date, where the "
                                          "inferred type is wrong (e.g. a zip code as a category).")
    missing_values: list[Annotated[str, Field(strict=True)]] = Field(
        default_factory=lambda: list(MISSING_VALUES), description="Cells that mean a missing value.")
    impute: _choice(("mean", "median")) = Field(
        "mean", description="Missing numbers become the training mean or median of their column.")
    impute_categories: _choice(("missing", "most_frequent")) = Field(
        "missing", description="Missing categories become a category of their own, or the most frequent one.")
    missing_indicator: bool = Field(
        False, strict=True, description="Add a 0/1 input per column that had missing training values.")
    max_categories: int = _int(50, "One-hot columns per category column at most (>= 2); the least "
                                   "frequent values share the last one.", ge=2)
    min_frequency: int = _int(5, "Categories seen fewer times in training are grouped as rare (>= 1).",
                              ge=1)
    dates: _choice(("expand", "drop")) = Field(
        "expand", description="Date columns: expand into year, month, day, weekday (and hour), or drop.")
    delimiter: Optional[_choice((",", ";", "\t", "|"))] = Field(
        None, description="CSV delimiter; null: detected from the header row.")
    params: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Keyword arguments of a make_* generator, e.g. n_samples, noise.")
    task: Optional[_choice(("classification", "regression"))] = Field(
        None, description="classification or regression; null: inferred from the data.")
    target_scaling: _choice(("auto", "standard", "none")) = Field(
        "auto", description="Regression targets: standard trains on z-scores and reports in the "
                            "data's units; auto: standard unless model.output bounds the outputs.")
    validation: float = _float(0.1, "Fraction of samples held out for validation, in [0, 1).",
                               ge=0, lt=1)
    test: float = _float(0.2, "Fraction of samples held out for testing, in [0, 1); "
                              "validation + test < 1.", ge=0, lt=1)
    scaling: Annotated[_choice(("standard", "minmax", "max", "none")), BeforeValidator(_none_if_off)] = Field(
        "standard", description="Feature scaling fitted on the training split (null: none; 0/1 columns stay "
                                "0/1). Images: standard and minmax work per channel; max divides every "
                                "pixel by the largest training pixel (images only).")
    layout: _choice(("nhwc", "nchw")) = Field(
        "nhwc", description="Axis order of a 4-D X of images in an .npz: nhwc (samples, height, width, "
                            "channels: how image libraries and Keras store them) or nchw (PyTorch's). "
                            "A 3-D X is (samples, height, width), one channel.")
    polynomial: int = _int(1, "Degree of polynomial features, 1..10 (1 = none).", ge=1, le=10)
    subset: Optional[int] = _int(None, "Keep only the first N samples (>= 2).", ge=2)

    @model_validator(mode="before")
    @classmethod
    def _path_replaces_dataset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("path") is not None and "dataset" not in data:
            return {**data, "dataset": None}
        return data

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        problems = []
        if self.path is not None and self.dataset is not None:
            problems.append(("path", "expected either `path` or `dataset`, not both, got path "
                             f"{self.path!r} and dataset {self.dataset!r}: to train on the file, set "
                             "data.dataset: null (on the command line: --set data.dataset=null)",
                             self.path))
        if self.path is None and self.dataset is None:
            problems.append(("dataset", "expected a dataset name or a `path`, got neither", None))
        if self.path is not None and self.params:
            problems.append(("params", f"{_show(self.params)} has no effect: only a built-in dataset "
                             "takes params, and data.path is set", self.params))
        if self.path is not None and not self.path.lower().endswith(DATA_FILE_TYPES):
            problems.append(("path", "expected a .csv (also .csv.gz, .tsv, .txt), .parquet or .npz "
                                     f"file, got {self.path!r}", self.path))
        if self.validation + self.test >= 1:
            problems.append(("test", "expected validation + test < 1, got "
                             f"{self.validation} + {self.test}", self.test))
        roles = [("label", self.label), ("id", self.id), ("weight", self.weight)]
        for key, col in roles:
            for other in ("features", "drop"):
                if col is not None and col in (getattr(self, other) or []):
                    problems.append((other, f"'{col}' is data.{key}; a column has one role", col))
        both = sorted(set(self.features or []) & set(self.drop))
        if both:
            problems.append(("drop", f"{', '.join(both)} also in data.features; choose one", self.drop))
        _raise("DataConfig", problems)
        return self

    @field_validator("delimiter", mode="before")
    @classmethod
    def _tab(cls, value: Any) -> Any:
        return "\t" if value == "\\t" else value  # the two characters \t, as a shell passes them
