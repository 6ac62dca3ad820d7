"""Configs as a newcomer writes them: run names from the file, names from scikit-learn and Keras,
shorthands, and problems found by `config validate` rather than halfway into `train`."""

import pytest

from helpers import write
from nncli.config import load_config
from nncli.errors import ConfigError


# ---------------------------------------------------------------- the run's name
@pytest.mark.parametrize("file,name", [
    ("iris.yaml", "iris"), ("my exp (2).yaml", "my-exp-2"), ("été.yml", "ete"), ("_draft..v2.yaml", "draft.v2"),
])
def test_a_config_without_a_name_names_its_runs_after_the_file(tmp_path, file, name):
    path = write(tmp_path / file, "data: {dataset: iris}\n")
    assert load_config(path).name == name


def test_a_name_that_is_set_wins_and_stdin_is_run(tmp_path):
    assert load_config(write(tmp_path / "iris.yaml", "name: flowers\n")).name == "flowers"
    assert load_config("-", text="seed: 1\n").name == "run"
    assert load_config(write(tmp_path / "iris.yaml", "seed: 1\n"), ["name=other"]).name == "other"


def test_train_puts_the_file_stem_in_the_run_directory(tmp_path, nncli):
    cfg = write(tmp_path / "tiny-iris.yaml", "data: {dataset: iris}\ntraining: {epochs: 2}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert r.out.strip().endswith("-tiny-iris")
