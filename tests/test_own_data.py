"""A user's own files, end to end: the Palmer penguins CSV as it ships, columns found by name,
regression targets in their own units, predictions in every format, honest evaluation."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import load_arrays, write


@pytest.fixture(scope="module")
def penguins_csv():
    import palmerpenguins

    return Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


@pytest.fixture
def penguins_run(tmp_path, nncli, penguins_csv):
    shutil.copy(penguins_csv, tmp_path / "penguins.csv")
    cfg = write(tmp_path / "penguins.yaml", "data: {dataset: null, path: penguins.csv, label: species}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--no-progress")
    assert r.code == 0, r.err
    return Path(r.out.strip()), r


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_raw_penguins_train_to_97_percent_and_predict_every_row(penguins_run, tmp_path, nncli):
    run, r = penguins_run
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final"]["test"]["accuracy"] >= 0.97
    # what became of each column, said at the start and kept in the summary
    assert "inputs: 5 numbers (bill_length_mm" in r.err and "2 categories (island: 3, sex: 2 + missing)" in r.err
    assert summary["data"]["inputs"]["island"] == "category" and summary["data"]["inputs"]["year"] == "number"
    assert summary["data"]["fingerprint"]["size"] == (tmp_path / "penguins.csv").stat().st_size
    p = nncli("predict", run, "--input", tmp_path / "penguins.csv")
    assert p.code == 0, p.err
    rows = rows_of(p.out)
    assert len(rows) == 344  # rows with NA cells included
    assert {row["prediction"] for row in rows} == {"Adelie", "Chinstrap", "Gentoo"}
    assert list(rows[0]) == ["prediction", "p_Adelie", "p_Chinstrap", "p_Gentoo"]
    assert all(len(row["p_Adelie"].split(".")[1]) == 6 for row in rows)  # rounded to 6 decimals
    truth = [row["species"] for row in csv.DictReader(open(tmp_path / "penguins.csv"))]
    assert np.mean([a == b for a, b in zip(truth, (row["prediction"] for row in rows))]) > 0.97


def test_config_path_is_relative_to_the_config_and_saved_absolute(penguins_run, tmp_path, monkeypatch, nncli):
    run, _ = penguins_run
    saved = (run / "config.yaml").read_text()
    assert f"path: {tmp_path / 'penguins.csv'}" in saved
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = nncli("evaluate", run, "--json")
    assert r.code == 0, r.err
    again = nncli("train", run / "config.yaml", "--runs-dir", tmp_path / "runs2", "--quiet")
    assert again.code == 0, again.err


def test_evaluate_scores_the_recorded_test_rows_and_matches_training(penguins_run, nncli):
    run, _ = penguins_run
    summary = json.loads((run / "summary.json").read_text())
    arrays = load_arrays(run / "model.npz")
    r = nncli("evaluate", run, "--json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["samples"] == len(arrays["split.test"]) == summary["samples"]["test"]
    assert got["accuracy"] == summary["final"]["test"]["accuracy"]
    assert sorted(set(arrays["split.train"]) | set(arrays["split.validation"]) | set(arrays["split.test"])) \
        == list(range(344 - 2 * 0))  # every row has a species; none is in two splits
    assert not set(arrays["split.train"]) & set(arrays["split.test"])


def test_shuffled_columns_score_the_same_as_the_original_order(penguins_run, tmp_path, nncli):
    """The bar: evaluate --data on the run's test rows with the columns shuffled equals
    evaluate on its own test split (columns are matched by name, never by position)."""
    run, _ = penguins_run
    arrays = load_arrays(run / "model.npz")
    with open(tmp_path / "penguins.csv", newline="") as f:
        table = list(csv.reader(f))
    header, body = table[0], table[1:]
    test_rows = [body[i] for i in arrays["split.test"]]
    order = [7, 2, 0, 5, 1, 6, 4, 3]  # a fixed shuffle of the 8 columns
    assert sorted(order) == list(range(8)) and order != list(range(8))
    shuffled = tmp_path / "test_shuffled.csv"
    with open(shuffled, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([header[k] for k in order] + ["notes"])  # an extra column is ignored
        w.writerows([[row[k] for k in order] + ["x"] for row in test_rows])
    own = json.loads(nncli("evaluate", run, "--json").out)
    other = nncli("evaluate", run, "--data", shuffled, "--json")
    assert other.code == 0, other.err
    other = json.loads(other.out)
    for key in ("accuracy", "log_loss", "f1_macro", "confusion_matrix", "per_class", "samples"):
        assert other[key] == own[key], key


def test_evaluate_refuses_a_file_changed_since_training(penguins_run, tmp_path, nncli):
    run, _ = penguins_run
    path = tmp_path / "penguins.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "".join(reversed(lines[1:])))  # the same rows, shuffled
    r = nncli("evaluate", run)
    assert r.code == 4
    assert "penguins.csv: the file changed since run" in r.err and "--data" in r.err
    assert len(r.err.strip().splitlines()) == 1
    path.unlink()
    r = nncli("evaluate", run)
    assert r.code == 4 and "no such file" in r.err


def test_missing_columns_are_named_in_one_error(penguins_run, tmp_path, nncli):
    run, _ = penguins_run
    data = write(tmp_path / "few.csv", "bill_length_mm,body_mass_g,island\n39.1,3750,Dream\n")
    r = nncli("predict", run, "--input", data)
    assert r.code == 4
    line = r.err.strip()
    assert len(line.splitlines()) == 1
    for name in ("bill_depth_mm", "flipper_length_mm", "sex", "year"):
        assert f"'{name}'" in line
    assert "few.csv: no columns" in line and "expects input columns" in line


def test_unseen_categories_are_zero_rows_with_a_count(penguins_run, tmp_path, nncli):
    run, _ = penguins_run
    data = write(tmp_path / "new.csv", "island,sex,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,year\n"
                                       "Atlantis,female,39,18,180,3700,2008\nDream,,46,17,190,3500,2009\n"
                                       "Atlantis,male,,,,,2008\n")
    r = nncli("predict", run, "--input", data)
    assert r.code == 0, r.err
    assert len(rows_of(r.out)) == 3
    assert "column 'island' has values not seen in training ('Atlantis' x2)" in r.err


@pytest.mark.parametrize("name", ["out.jsonl", "out.json", "out.parquet", "out.tsv"])
def test_predict_output_format_follows_the_extension(penguins_run, tmp_path, nncli, name, penguins_csv):
    run, _ = penguins_run
    out = tmp_path / name
    r = nncli("predict", run, "--input", penguins_csv, "--output", out)
    assert r.code == 0, r.err
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        got = pq.read_table(out).to_pylist()
    elif name.endswith(".jsonl"):
        got = [json.loads(line) for line in out.read_text().splitlines()]
    elif name.endswith(".json"):
        got = json.loads(out.read_text())
    else:
        got = list(csv.DictReader(io.StringIO(out.read_text()), delimiter="\t"))
    assert len(got) == 344 and got[0]["prediction"] in ("Adelie", "Chinstrap", "Gentoo")
    assert abs(sum(float(got[0][f"p_{c}"]) for c in ("Adelie", "Chinstrap", "Gentoo")) - 1) < 1e-5


def test_predict_refuses_an_unknown_extension_and_reads_stdin_parquet_and_npz(penguins_run, tmp_path, nncli,
                                                                             penguins_csv):
    run, _ = penguins_run
    r = nncli("predict", run, "--input", penguins_csv, "--output", tmp_path / "out.xlsx")
    assert r.code == 2 and "unknown format '.xlsx'" in r.err and not (tmp_path / "out.xlsx").exists()
    r = nncli("predict", run, "--input", penguins_csv, "--output", tmp_path / "o.csv", "--json")
    assert r.code == 2 and "--json writes JSON lines" in r.err
    text = penguins_csv.read_text()
    r = nncli("predict", run, "--input", "-", "--json", stdin=text)
    assert r.code == 0, r.err
    from_stdin = [json.loads(line) for line in r.out.splitlines()]
    assert len(from_stdin) == 344
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(pacsv.read_csv(penguins_csv), tmp_path / "p.parquet")
    r = nncli("predict", run, "--input", tmp_path / "p.parquet", "--json")
    assert r.code == 0, r.err
    assert [json.loads(line) for line in r.out.splitlines()] == from_stdin


def test_id_column_passes_through_and_is_never_an_input(tmp_path, nncli):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    body = "".join(f"id{i:03d},{a:.4f},{b:.4f},{'yes' if a + b > 0 else 'no'}\n" for i, (a, b) in enumerate(x))
    data = write(tmp_path / "d.csv", "key,a,b,y\n" + body)
    cfg = write(tmp_path / "c.yaml", "data: {path: d.csv, id: key}\ntraining: {epochs: 5}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["inputs"] == {"a": "number", "b": "number"}
    assert summary["data"]["dropped"]["key"].startswith("data.id")
    p = nncli("predict", run, "--input", data)
    rows = rows_of(p.out)
    assert list(rows[0])[:2] == ["key", "prediction"] and rows[5]["key"] == "id005"


def test_diabetes_csv_with_default_settings_reaches_r2_040(tmp_path, nncli):
    """The bar: regression targets are standardized by default, so the diabetes CSV trains."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    with open(tmp_path / "diabetes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(bunch.feature_names) + ["progression"])
        w.writerows([list(x) + [t] for x, t in zip(bunch.data.tolist(), bunch.target.tolist())])
    cfg = write(tmp_path / "d.yaml", "data: {path: diabetes.csv}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "regression" and summary["final"]["test"]["r2"] >= 0.40
    got = json.loads(nncli("evaluate", run, "--json").out)
    assert got["r2"] == pytest.approx(summary["final"]["test"]["r2"], abs=1e-6)
    assert got["rmse"] == pytest.approx(summary["final"]["test"]["rmse"], rel=1e-6)
    assert 40 < got["rmse"] < 80  # in the target's units (it ranges over 25..346)


def test_sample_weights_column_changes_the_fit(tmp_path, nncli):
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    body = "".join(f"{v:.4f},{1 if v > 0 else 0},{100.0 if v > 0 else 0.01}\n" for v in x)
    write(tmp_path / "w.csv", "x,y,w\n" + body)
    cfg = write(tmp_path / "c.yaml", "data: {path: w.csv, label: y, weight: w}\ntraining: {epochs: 3}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["data"]["weight"] == "w" and "w" not in summary["data"]["inputs"]
    write(tmp_path / "w.csv", "x,y,w\n1,1,2\n2,0,-1\n3,1,1\n4,0,1\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 4 and "row 3, column 'w': expected a sample weight >= 0, got -1" in r.err


def test_transfer_learning_finds_input_columns_by_name(tmp_path, nncli):
    """A base trained on columns a, b, c starts a model whose file has them as c, a, b: the
    first layer's rows follow the names, so the carried-over model predicts the same."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    y = np.where(X[:, 0] - X[:, 2] > 0, "p", "q")
    rows = [f"{a:.5f},{b:.5f},{c:.5f},{t}\n" for (a, b, c), t in zip(X, y)]
    write(tmp_path / "abc.csv", "a,b,c,y\n" + "".join(rows))
    write(tmp_path / "cab.csv", "c,a,b,y\n" + "".join(f"{r.split(',')[2]},{r.split(',')[0]},{r.split(',')[1]},"
                                                    f"{r.split(',')[3]}" for r in rows))
    base_cfg = write(tmp_path / "base.yaml", "data: {path: abc.csv, scaling: none}\ntraining: {epochs: 20}\n")
    r = nncli("train", base_cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    base = r.out.strip()
    cfg = write(tmp_path / "ft.yaml", f"data: {{path: cab.csv, scaling: none}}\nmodel: {{init_from: {base}, freeze: 2}}\n"
                                      "training: {epochs: 1}\noptimizer: {name: sgd, lr: 1.0e-12}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["transfer"]["inputs"] == "dense0: 3 of 3 input columns matched by name"
    ours = rows_of(nncli("predict", summary["dir"], "--input", tmp_path / "abc.csv").out)
    theirs = rows_of(nncli("predict", base, "--input", tmp_path / "abc.csv").out)
    assert [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
    # the same sums in another order: equal to float32 rounding
    np.testing.assert_allclose([float(r["p_p"]) for r in ours], [float(r["p_p"]) for r in theirs], atol=3e-6)
