from __future__ import annotations

import numpy as np
import pytest

from nncli.data import (
    DATASETS,
    GENERATORS,
    Dataset,
    Preprocessor,
    infer_task,
    load_dataset,
    read_raw,
)
from nncli.errors import ConfigError, DataError
from nncli.runs import load_npz, save_npz

SMALL = {"n_samples": 120}  # keeps the generated datasets small


def load(**kw) -> Dataset:
    args = dict(dataset="iris", path=None, label=None, params={}, task=None, validation=0.1,
                test=0.2, scaling="standard", polynomial=1, subset=None, seed=0, dtype="float32")
    args.update(kw)
    return load_dataset(**args)


def write_csv(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- named datasets

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(DATASETS) + sorted(GENERATORS))
def test_every_dataset_loads(name, dtype):
    params = SMALL if name in GENERATORS else {}
    d = load(dataset=name, params=params, dtype=dtype)
    expected_task = (DATASETS | GENERATORS)[name]
    assert d.task == expected_task
    assert d.source == name
    X, y, _, _ = read_raw(dataset=name, path=None, label=None, params=params, seed=0)
    n = len(X)
    assert len(d.X_train) + len(d.X_val) + len(d.X_test) == n
    assert len(d.X_test) == int(np.ceil(0.2 * n))
    assert len(d.X_val) == int(np.ceil(0.1 * n))
    for Xs, ys in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert Xs.dtype == np.dtype(dtype)
        assert Xs.shape[1] == X.shape[1] == len(d.feature_names)
        assert np.isfinite(Xs).all()
        assert len(Xs) == len(ys)
        if expected_task == "classification":
            assert ys.dtype == np.int64 and ys.ndim == 1
            assert ys.min() >= 0 and ys.max() < len(d.classes)
        else:
            assert ys.ndim == 2 and ys.dtype == np.dtype(dtype)
    if expected_task == "classification":
        np.testing.assert_array_equal(d.classes, np.unique(y))
    else:
        assert d.classes is None


def test_digits_shapes_and_subset_keeps_first_samples():
    from sklearn.datasets import load_digits

    d = load(dataset="digits", subset=100, scaling="none", dtype="float64")
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (70, 10, 20)
    got = np.vstack([d.X_train, d.X_val, d.X_test])
    first = load_digits().data[:100]
    # the same rows as the first 100, in some order
    np.testing.assert_array_equal(np.unique(got, axis=0), np.unique(first, axis=0))
    assert d.feature_names[0] == "pixel_0_0" and len(d.feature_names) == 64


def test_stratified_split_keeps_class_proportions():
    d = load(dataset="breast_cancer", validation=0.2, test=0.2)
    _, y, _, _ = read_raw(dataset="breast_cancer", path=None, label=None, params={}, seed=0)
    overall = np.mean(y == d.classes[1])
    for ys in (d.y_train, d.y_val, d.y_test):
        assert abs(np.mean(ys == 1) - overall) < 0.01


def test_same_seed_same_arrays_other_seed_differs():
    a, b, c = load(seed=3), load(seed=3), load(seed=4)
    for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.X_test, c.X_test)


def test_test_split_depends_only_on_seed_and_test_fraction():
    a = load(dataset="wine", validation=0.0, scaling="none")
    b = load(dataset="wine", validation=0.3, scaling="none")
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert len(a.X_val) == 0 and a.X_val.shape[1] == 13
    assert len(b.X_val) == int(np.ceil(0.3 * 178))


def test_zero_test_fraction_gives_empty_test_split():
    d = load(test=0.0, validation=0.0)
    assert d.X_test.shape == (0, 4) and d.y_test.shape == (0,)
    assert len(d.X_train) == 150


def test_generators_get_the_seed_unless_params_give_random_state():
    a = load(dataset="make_moons", params=SMALL, seed=1, scaling="none")
    b = load(dataset="make_moons", params=SMALL, seed=2, scaling="none")
    assert not np.array_equal(np.sort(a.X_train, 0), np.sort(b.X_train, 0))
    X1, *_ = read_raw(dataset="make_moons", path=None, label=None, seed=1,
                      params={"n_samples": 50, "random_state": 7})
    X2, *_ = read_raw(dataset="make_moons", path=None, label=None, seed=2,
                      params={"n_samples": 50, "random_state": 7})
    np.testing.assert_array_equal(X1, X2)


def test_make_regression_multi_target():
    d = load(dataset="make_regression", params={"n_samples": 50, "n_features": 3, "n_targets": 2})
    assert d.task == "regression" and d.y_train.shape == (35, 2)


def test_unknown_generator_param_names_it_and_the_accepted_ones():
    with pytest.raises(ConfigError) as e:  # a typo in the config: exit 2, as config validate says
        load(dataset="make_moons", params={"nosie": 0.1})
    msg = str(e.value)
    assert "'nosie'" in msg and "noise" in msg and "n_samples" in msg and "did you mean 'noise'" in msg
    assert "\n" not in msg


def test_bad_generator_value_is_a_config_error():
    with pytest.raises(ConfigError, match="data.params: make_moons"):
        load(dataset="make_moons", params={"n_samples": -5})


def test_unknown_dataset_name_suggests():
    with pytest.raises(DataError, match="did you mean 'digits'"):
        load(dataset="digts")


def test_too_few_samples_for_the_split():
    with pytest.raises(DataError, match="training split would be empty"):
        load(dataset="digits", subset=3, validation=0.5, test=0.4)


# ---------------------------------------------------------------- preprocessing

def test_standard_scaler_is_fitted_on_train_only():
    d = load(dataset="wine", dtype="float64")
    np.testing.assert_allclose(d.X_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.std(0), 1, atol=1e-12)
    assert np.abs(d.X_test.mean(0)).max() > 1e-3  # not re-fitted on test


def test_minmax_maps_train_to_unit_interval():
    d = load(dataset="wine", scaling="minmax", dtype="float64")
    np.testing.assert_allclose(d.X_train.min(0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.max(0), 1, atol=1e-12)


def test_constant_column_gives_no_nan():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    for scaling in ("standard", "minmax"):
        Z = Preprocessor(scaling).fit(X).transform(X, "float64")
        assert np.isfinite(Z).all()
        np.testing.assert_array_equal(Z[:, 1], Z[0, 1])


def test_polynomial_degree_two_on_one_feature():
    x = np.array([[1.0], [2.0], [-3.0]])
    Z = Preprocessor("none", 2).fit(x).transform(x, "float64")
    np.testing.assert_array_equal(Z, [[1, 1], [2, 4], [-3, 9]])
    # with scaling, the squares are scaled as a second column
    S = Preprocessor("standard", 2).fit(x).transform(x, "float64")
    np.testing.assert_allclose(S[:, 1], (Z[:, 1] - Z[:, 1].mean()) / Z[:, 1].std())


def test_polynomial_through_load_dataset(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.arange(10.0).reshape(10, 1), y=np.arange(10.0) * 0.5)
    d = load(dataset=None, path=str(p), polynomial=3, scaling="none", test=0, validation=0,
             dtype="float64")
    assert d.task == "regression"
    x = d.X_train[:, 0]
    np.testing.assert_array_equal(d.X_train, np.column_stack([x, x**2, x**3]))


def test_preprocessor_state_round_trip_through_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * [1, 10, 100]
    p = Preprocessor("standard", 2).fit(X[:30])
    save_npz(tmp_path / "p.npz", p.state_dict())
    state = load_npz(tmp_path / "p.npz")
    assert all(a.dtype != object for a in state.values())
    q = Preprocessor.from_state_dict(state)
    assert (q.scaling, q.degree, q.n_features_in) == ("standard", 2, 3)
    np.testing.assert_array_equal(p.transform(X[30:], "float32"), q.transform(X[30:], "float32"))


def test_preprocessor_rejects_wrong_width():
    p = Preprocessor().fit(np.ones((3, 2)))
    with pytest.raises(DataError, match="expected 2 feature columns"):
        p.transform(np.ones((3, 5)))


def test_bad_scaling_name():
    with pytest.raises(DataError, match="did you mean 'minmax'"):
        Preprocessor("minmx")


# ---------------------------------------------------------------- infer_task

@pytest.mark.parametrize("y, task", [
    (np.array(["a", "b", "a", "b"]), "classification"),
    (np.array([True, False, True]), "classification"),
    (np.array([0, 1, 2, 1, 0, 2]), "classification"),
    (np.array([0.0, 1.0, 1.0, 0.0]), "classification"),
    (np.array([0.5, 1.5, 2.0, 3.0]), "regression"),
    (np.arange(200), "regression"),  # many distinct integers
    (np.arange(60).repeat(4), "regression"),  # more than 50 classes
    (np.array([1, 2, 3, 4, 5, 6]), "regression"),  # as many distinct as samples
    (np.zeros((5, 2)), "regression"),
])
def test_infer_task(y, task):
    assert infer_task(y) == task


# ---------------------------------------------------------------- CSV files

def test_csv_with_string_labels(tmp_path):
    rows = ["age,kind,height"]
    for i in range(30):
        rows.append(f"{20 + i},{['cat', 'dog', 'emu'][i % 3]},{1.5 + i / 100}")
    path = write_csv(tmp_path / "animals.csv", "\n".join(rows) + "\n")
    d = load(dataset=None, path=path, label="kind", test=0.2, validation=0.0, scaling="none",
             dtype="float64")
    assert d.task == "classification" and d.source == path
    np.testing.assert_array_equal(d.classes, ["cat", "dog", "emu"])
    assert d.classes.dtype.kind == "U"
    assert d.feature_names == ["age", "height"]
    assert len(d.X_test) == 6 and np.bincount(d.y_test).tolist() == [2, 2, 2]  # stratified
    # each row's label follows from its age
    for x, code in zip(d.X_train, d.y_train):
        assert d.classes[code] == ["cat", "dog", "emu"][int(x[0] - 20) % 3]


def test_csv_default_label_is_last_column_and_numeric_labels(tmp_path):
    rows = ["a,b,target"] + [f"{i},{i * 2},{i % 2}" for i in range(10)]
    path = write_csv(tmp_path / "n.csv", "\n".join(rows) + "\n\n")  # trailing blank line
    X, y, names, source = read_raw(dataset=None, path=path, label=None, params={}, seed=0)
    assert names == ["a", "b"] and X.shape == (10, 2) and source == path
    np.testing.assert_array_equal(y, [i % 2 for i in range(10)])
    d = load(dataset=None, path=path)
    assert d.classes.dtype == np.int64 and d.classes.tolist() == [0, 1]


def test_stratification_impossible_falls_back(tmp_path):
    labels = ["a"] * 8 + ["b"]  # "b" has a single member
    rows = ["x,y"] + [f"{i},{lab}" for i, lab in enumerate(labels)]
    path = write_csv(tmp_path / "rare.csv", "\n".join(rows))
    d = load(dataset=None, path=path, test=0.3, validation=0.0)
    assert len(d.X_train) + len(d.X_test) == 9


def test_regression_with_text_labels_refused(tmp_path):
    path = write_csv(tmp_path / "r.csv", "x,y\n1,2\n2,abc\n3,4\n")
    with pytest.raises(DataError, match=r"r\.csv: row 3, column 'y': regression needs numeric labels, got 'abc'"):
        load(dataset=None, path=path, task="regression")


def test_npz_regression_with_text_numbers(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, X=np.arange(8.0).reshape(4, 2), y=np.array(["1.5", "2.5", "3", "x"]))
    with pytest.raises(DataError, match=r"t\.npz: row 3, column 'y': regression needs numeric labels, got 'x'"):
        load(dataset=None, path=str(p), task="regression", test=0, validation=0)
    np.savez(p, X=np.arange(8.0).reshape(4, 2), y=np.array(["1.5", "2.5", "3", "4"]))
    d = load(dataset=None, path=str(p), task="regression", test=0, validation=0)
    assert sorted(d.y_train.ravel().tolist()) == [1.5, 2.5, 3.0, 4.0]


NUMBERS = "".join(f"{i},{i * 2},{i % 2}\n" for i in range(20))


@pytest.mark.parametrize("text, label, pattern", [
    ("", None, r"bad\.csv: empty file, expected a header row"),
    ("a,b,y\n1,2,0\n3,4\n5,6,1\n", None, r"bad\.csv: row 3 has 2 cells, expected 3"),
    ("a,b,y\n" + NUMBERS + "3,abc,1\n", None,
     r"bad\.csv: row 22, column 'b': expected a number, got 'abc'; .*data\.missing_values.*data\.types\.b: category"),
    ("a,b,y\n1,2,0\n3,4,1\n5,inf,0\n", None, r"bad\.csv: row 4, column 'b': expected a finite number, got inf"),
    ("a,b,y\n1,2,\n3,4,\n", None, r"bad\.csv: the label column 'y' is empty in every row"),
    ("a,b,label\n1,2,0\n3,4,1\n", "lable", r"bad\.csv: no column 'lable' \(data\.label\) \(did you mean 'label'\?\); "
                                            r".*the file has a, b, label"),
    ("a,b,y\n1,2,0\n3,4,0\n5,6,0\n", None, r"bad\.csv: the labels hold a single class \(0\)"),
    ("a,b,y\n1,2,0\n", None, r"bad\.csv: expected at least 2 samples, got 1"),
    ("a,b,y\n", None, r"bad\.csv: no data rows after the header"),
    ("a,a,y\n1,2,0\n3,4,1\n", None, r"bad\.csv: duplicate column name\(s\) in the header: a"),
    ("y\n1\n2\n", None, r"bad\.csv: expected at least 2 columns"),
])
def test_csv_errors(tmp_path, text, label, pattern):
    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match=pattern) as e:
        load(dataset=None, path=path, label=label, task="classification" if "single" in pattern else None)
    assert "\n" not in str(e.value)


def test_missing_cells_and_labels(tmp_path):
    """Empty, NA, NaN and ? cells are missing values, imputed with the training mean; rows
    without a label are left out of every split."""
    path = write_csv(tmp_path / "m.csv", "a,b,y\n1,,0\n3,4,1\n5,NA,0\n7,?,1\n9,nan,0\n11,8,\n13,2,NA\n")
    d = load(dataset=None, path=path, test=0, validation=0, scaling="none", dtype="float64")
    assert len(d.X_train) == 5 and sorted(d.rows["train"].tolist()) == [0, 1, 2, 3, 4]
    by_a = {row[0]: row[1] for row in d.X_train}
    assert by_a == {1: 4, 3: 4, 5: 4, 7: 4, 9: 4}  # the mean of b over the labelled training rows
    assert d.info["rows_without_label"] == 2 and any("2 rows without a label" in n for n in d.notes)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        load(dataset=None, path=str(tmp_path / "missing.csv"))
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv: is a directory"):
        load(dataset=None, path=str(tmp_path / "dir.csv"))
    (tmp_path / "d.xlsx").write_text("a,b\n")
    with pytest.raises(DataError, match=r"d\.xlsx: unsupported file type '\.xlsx', expected one of \.csv"):
        load(dataset=None, path=str(tmp_path / "d.xlsx"))
    (tmp_path / "latin.csv").write_bytes(b"a,y\n\xe9,1\n")
    with pytest.raises(DataError, match=r"latin\.csv: not UTF-8"):
        load(dataset=None, path=str(tmp_path / "latin.csv"))


# ---------------------------------------------------------------- NPZ files

def test_npz_happy_path_with_feature_names(tmp_path):
    p = tmp_path / "d.npz"
    X = np.arange(20.0).reshape(10, 2)
    np.savez(p, X=X, y=np.array(["n", "p"] * 5), feature_names=np.array(["u", "v"]))
    d = load(dataset=None, path=str(p), test=0.2, validation=0.0)
    assert d.feature_names == ["u", "v"] and d.classes.tolist() == ["n", "p"]


@pytest.mark.parametrize("arrays, pattern", [
    ({"X": np.ones((4, 2))}, r"bad\.npz: missing array\(s\) y; the archive holds X"),
    ({"data": np.ones((4, 2)), "target": np.ones(4)}, r"missing array\(s\) X, y; the archive holds data, target"),
    ({"X": np.ones(4), "y": np.ones(4)}, r"bad\.npz: X must be 2-D"),
    ({"X": np.ones((4, 2)), "y": np.ones(3)}, r"bad\.npz: y must have one entry per row of X \(4\)"),
    ({"X": np.array([[1.0, np.inf], [1, 2]]), "y": np.ones(2)},
     r"bad\.npz: row 0, column 'x1': expected a finite number, got inf"),
    ({"X": np.ones((4, 0)), "y": np.ones(4)}, r"bad\.npz: X has no feature columns"),
    ({"X": np.ones((4, 2)), "y": np.ones((4, 0))}, r"bad\.npz: y has no target columns"),
    ({"X": np.array([["a", "b"]]), "y": np.ones(1)}, r"bad\.npz: X must hold numbers"),
])
def test_npz_errors(tmp_path, arrays, pattern):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=pattern):
        load(dataset=None, path=str(p))


def test_npz_with_object_array_refused(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, X=np.ones((4, 2)), y=np.array([1, "a", None, 2.0], dtype=object))
    with pytest.raises(DataError, match=r"obj\.npz: array 'y' holds Python objects"):
        load(dataset=None, path=str(p))


def test_corrupt_npz(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DataError, match=r"junk\.npz: truncated or damaged \.npz archive"):
        load(dataset=None, path=str(p))


def test_npz_nan_is_missing_and_imputed(tmp_path):
    p = tmp_path / "n.npz"
    np.savez(p, X=np.array([[1.0, np.nan], [3.0, 2.0], [5.0, 4.0], [7.0, 6.0]]), y=np.array([0, 1, 0, 1]))
    d = load(dataset=None, path=str(p), test=0, validation=0, scaling="none", dtype="float64")
    assert np.isfinite(d.X_train).all() and 4.0 in d.X_train[:, 1]  # mean of 2, 4, 6
