"""The data pipeline's hand-written parts agree with scikit-learn, and the readers read what
users write: gzip, TSV, Parquet, dates, booleans, quoted newlines."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nncli.data import DataOptions, load_dataset
from nncli.data.encode import TableEncoder
from nncli.data.preprocess import Preprocessor
from nncli.data.table import Table, number_column, text_column
from nncli.runs import load_npz, save_npz


def table_of(**cols) -> Table:
    out = {}
    for name, values in cols.items():
        values = np.asarray(values)
        if values.dtype.kind in "UO":
            s = values.astype(str)
            levels, codes = np.unique(s[s != ""], return_inverse=True)
            full = np.full(len(s), -1)
            full[s != ""] = codes
            out[name] = text_column(name, full, levels)
        else:
            out[name] = number_column(name, values.astype(float))
    return Table("t", out, len(next(iter(cols.values()))), 0, list(cols))


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_number_imputation_equals_simple_imputer(strategy):
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) * [1, 10, 100, 1000]
    X[rng.random(X.shape) < 0.2] = np.nan
    t = table_of(**{f"c{k}": X[:, k] for k in range(4)})
    rows = np.arange(200)
    enc = TableEncoder([(f"c{k}", "number") for k in range(4)], impute=strategy).fit(t, rows)
    ours = enc.bind(t).block(np.arange(300))
    theirs = SimpleImputer(strategy=strategy).fit(X[:200]).transform(X)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)


@pytest.mark.parametrize("missing", ["missing", "most_frequent"])
def test_one_hot_equals_scikit_learn_with_rare_grouping_and_unseen_values(missing):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    values = np.array(["a", "b", "c", "d", "e", ""])
    train = values[rng.choice(6, 400, p=[0.4, 0.3, 0.2, 0.05, 0.005, 0.045])]
    test = np.array(["a", "e", "zzz", "", "d", "c"])  # e: rare; zzz: never seen
    t = table_of(x=np.concatenate([train, test]))
    enc = TableEncoder([("x", "category")], impute_categories=missing, min_frequency=5, max_categories=4)
    enc.fit(t, np.arange(400))
    bound = enc.bind(t)
    ours = bound.block(np.arange(400, 406))
    raw = np.where(np.concatenate([train, test]) == "", None, np.concatenate([train, test])).astype(object)
    imputer = (SimpleImputer(strategy="constant", fill_value="(missing)", missing_values=None) if missing == "missing"
               else SimpleImputer(strategy="most_frequent", missing_values=None))
    filled = imputer.fit(raw[:400, None]).transform(raw[:, None])
    ohe = OneHotEncoder(min_frequency=5, max_categories=4, handle_unknown="ignore", sparse_output=False)
    theirs = ohe.fit(filled[:400]).transform(filled[400:])
    np.testing.assert_array_equal(ours, theirs)
    assert bound.unseen["x"]["zzz"] == 1 and ours[2].sum() == 0  # never seen: a row of zeros, counted


def test_encoder_state_round_trips_through_npz_without_pickles(tmp_path):
    t = table_of(n=[1.0, np.nan, 3.0, 4.0] * 5, c=["x", "y", "", "x"] * 5)
    enc = TableEncoder([("n", "number"), ("c", "category")], indicator=True, min_frequency=1).fit(t, np.arange(20))
    save_npz(tmp_path / "e.npz", enc.state_dict())
    state = load_npz(tmp_path / "e.npz")
    assert all(a.dtype != object for a in state.values())
    back = TableEncoder.from_state_dict(state)
    assert back.names == enc.names == ["n", "n=(missing)", "c=x", "c=y", "c=(missing)"]
    np.testing.assert_array_equal(back.bind(t).block(np.arange(20)), enc.bind(t).block(np.arange(20)))


@pytest.mark.parametrize("scaling, cls", [("standard", "StandardScaler"), ("minmax", "MinMaxScaler")])
def test_scaling_statistics_equal_scikit_learns_scalers(scaling, cls):
    import sklearn.preprocessing as skp

    rng = np.random.default_rng(2)
    X = rng.normal(size=(5000, 5)) * [1, 1e-3, 1e3, 1, 0] + [0, 5, -2e4, 1.6e9, 7]
    p = Preprocessor(scaling).fit(X)
    s = getattr(skp, cls)().fit(X)
    # MinMaxScaler applies x*scale + min_, which loses the low digits of the 1.6e9 column
    np.testing.assert_allclose(p.transform(X, "float64"), s.transform(X), rtol=1e-9,
                               atol=1e-9 if scaling == "standard" else 1e-6)


def test_zero_one_columns_stay_zero_one_also_in_products():
    X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 4.0], [1.0, 1.0, 8.0]])
    p = Preprocessor("standard", 2).fit(X, binary=np.array([True, True, False]))
    Z = p.transform(X, "float64")
    powers = p._poly_features(3).powers_
    for j, pw in enumerate(powers):
        raw = np.prod(X ** pw, axis=1)
        if pw[2] == 0:
            np.testing.assert_array_equal(Z[:, j], raw)  # x0, x1, x0^2, x0*x1, x1^2: 0/1, unscaled
        else:
            assert abs(Z[:, j].mean()) < 1e-12


def load(path, **kw):
    args = dict(dataset=None, path=str(path), label=None, params={}, task=None, validation=0.0, test=0.0,
                scaling="none", polynomial=1, subset=None, seed=0, dtype="float64")
    args.update(kw)
    return load_dataset(**args)


def test_gzip_tsv_and_quoted_newlines(tmp_path):
    text = 'note,a,y\n"two\nlines",1,0\nplain,2,1\n"x, y",3,0\nplain,4,1\n'
    with gzip.open(tmp_path / "d.csv.gz", "wt") as f:
        f.write(text)
    d = load(tmp_path / "d.csv.gz", options=DataOptions(min_frequency=1))
    assert d.info["rows"] == 4 and d.info["inputs"] == {"note": "category", "a": "number"}
    (tmp_path / "d.tsv").write_text("a\tb\ty\n1\t2\t0\n3\t4\t1\n")
    assert load(tmp_path / "d.tsv").X_train.shape == (2, 2)


def test_dates_expand_booleans_become_0_1_and_types_override(tmp_path):
    (tmp_path / "d.csv").write_text("when,flag,zip,y\n2024-01-31,true,02134,0\n2024-02-29T13:00:00,false,10001,1\n"
                                    "2023-12-25,,02134,0\n2024-03-01,true,10001,1\n")
    d = load(tmp_path / "d.csv", options=DataOptions(types={"zip": "category"}, min_frequency=1))
    assert d.info["inputs"] == {"when": "date", "flag": "binary", "zip": "category"}
    names = d.encoder.names
    assert names[:5] == ["when.year", "when.month", "when.day", "when.weekday", "when.hour"]
    assert "zip=02134" in names and "flag" in names
    row = dict(zip(names, d.X_train[list(d.rows["train"]).index(1)]))
    assert (row["when.year"], row["when.month"], row["when.day"], row["when.weekday"], row["when.hour"]) == \
        (2024, 2, 29, 3, 13)  # a Thursday, 13:00
    assert row["flag"] == 0 and row["zip=10001"] == 1
    d = load(tmp_path / "d.csv", options=DataOptions(dates="drop", min_frequency=1))
    assert d.info["dropped"]["when"] == "a date (data.dates: drop)"


def test_parquet_columns_keep_their_types(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"n": [1, 2, None, 4] * 5, "c": pa.array(["u", "v", "u", None] * 5).dictionary_encode(),
                      "b": [True, False, True, None] * 5, "y": ["p", "q"] * 10})
    pq.write_table(table, tmp_path / "d.parquet")
    d = load(tmp_path / "d.parquet", options=DataOptions(min_frequency=1))
    assert d.info["inputs"] == {"n": "number", "c": "category", "b": "binary"}
    assert d.classes.tolist() == ["p", "q"]


def test_column_roles_are_checked_together(tmp_path):
    from nncli.errors import DataError

    (tmp_path / "d.csv").write_text("id,a,b,y\n1,2,3,0\n2,3,4,1\n")
    with pytest.raises(DataError, match=r"no columns 'c' \(data\.features\), 'bb' \(data\.drop\) \(did you mean 'b'\?\)"):
        load(tmp_path / "d.csv", options=DataOptions(features=["a", "c"], drop=["bb"]))
    d = load(tmp_path / "d.csv", options=DataOptions(features=["b"], id="id"))
    assert d.feature_names == ["b"] and d.info["dropped"]["a"] == "not in data.features"


def test_splits_equal_scikit_learns_train_test_split():
    """The split gathers indices with NumPy but draws exactly as train_test_split does."""
    from sklearn.model_selection import train_test_split

    from nncli.data.splits import _split

    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(10, 400))
        y = rng.integers(0, int(rng.integers(2, 5)), n)
        idx = np.arange(n) * 3
        n_out = int(rng.integers(1, n // 2))
        seed = int(rng.integers(0, 2**31))
        codes = np.zeros(3 * n, int)
        codes[idx] = y
        try:
            expected = train_test_split(idx, test_size=n_out, random_state=seed, stratify=y)
        except ValueError:  # a class too small: both fall back to a plain shuffle
            expected = train_test_split(idx, test_size=n_out, random_state=seed)
        for strat in (codes, None):
            got = _split(idx, n_out, strat, seed)
            if strat is None:
                expected = train_test_split(idx, test_size=n_out, random_state=seed)
            assert all(np.array_equal(a, b) for a, b in zip(got, expected)), trial
