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


# ---------------------------------------------------------------- other tools' names
@pytest.mark.parametrize("text,read_as", [
    ("model: {activation: logistic}", ("model", "activation", "sigmoid")),
    ("model: {activation: [logistic, linear], hidden: [4, 4]}", ("model", "activation", ["sigmoid", "identity"])),
    ("model: {output: logistic}", ("model", "output", "sigmoid")),
    ("loss: categorical_crossentropy", ("loss", "name", "cross_entropy")),
    ("loss: sparse_categorical_crossentropy", ("loss", "name", "cross_entropy")),
    ("loss: {name: binary_crossentropy}", ("loss", "name", "binary_cross_entropy")),
    ("loss: mean_squared_error", ("loss", "name", "mse")),
    ("loss: log_loss", ("loss", "name", "cross_entropy")),
    ("optimizer: {schedule: adaptive}", ("optimizer", "schedule", "plateau")),
    ("data: {scaling: null}", ("data", "scaling", "none")),
    ("data: {scaling: false}", ("data", "scaling", "none")),
    ("model: {hidden: 64}", ("model", "hidden", [64])),
])
def test_another_tools_name_for_a_value_is_read_as_nncli_s(text, read_as):
    from nncli.config import config_to_dict

    section, key, value = read_as
    got = config_to_dict(load_config("-", text=text + "\n"))[section]
    assert (got[key]["name"] if key == "schedule" else got[key]) == value


@pytest.mark.parametrize("text,message", [
    ("max_iter: 300", "max_iter: unknown key 'max_iter' (scikit-learn's name; nncli calls it training.epochs)"),
    ("training: {max_iter: 300}", "training.max_iter: unknown key 'max_iter' (scikit-learn's name; nncli calls it "
                                  "training.epochs)"),
    ("learning_rate: 0.01", "nncli calls it optimizer.lr"),
    ("optimizer: {name: adam, learning_rate: 0.01}", "optimizer.learning_rate: unknown key 'learning_rate' "
                                                     "(Keras's name; nncli calls it optimizer.lr"),
    ("optimizer: {learning_rate_init: 0.01}", "nncli calls it optimizer.lr"),
    ("solver: sgd", "nncli calls it optimizer.name"),
    ("model: {hidden_layer_sizes: [100]}", "nncli calls it model.hidden"),
    ("regularization: {alpha: 0.0001}", "nncli calls it regularization.l2; scikit-learn divides it by the "
                                        "batch size: l2 = alpha / batch_size"),
    ("optimizer: {name: sgd, nesterovs_momentum: true}", "nncli calls it optimizer.nesterov"),
    ("optimizer: {beta_1: 0.8}", "nncli calls it optimizer.betas; a list [beta_1, beta_2]"),
    ("training: {n_iter_no_change: 5}", "nncli calls it training.early_stopping.patience"),
    ("training: {early_stopping: {restore_best_weights: true}}", "nncli calls it training.early_stopping.restore_best"),
    ("random_state: 3", "nncli calls it seed"),
])
def test_another_tools_key_is_refused_naming_nncli_s_key(text, message):
    with pytest.raises(ConfigError) as e:
        load_config("-", text=text + "\n")
    assert message in str(e.value)


def test_a_hidden_size_that_is_not_a_number_is_refused_with_an_example():
    with pytest.raises(ConfigError, match=r"model.hidden: expected a list of layer sizes such as \[128\] or "
                                          r"\[128, 64\] \(\[\] for none\), got '128'"):
        load_config("-", text="model: {hidden: '128'}\n")


def test_a_path_on_a_config_with_a_dataset_says_how_to_train_on_the_file(tmp_path):
    digits = write(tmp_path / "digits.yaml", "data: {dataset: digits}\n")
    with pytest.raises(ConfigError, match=r"to train on the file, set data.dataset: null \(on the command line: "
                                          r"--set data.dataset=null\)"):
        load_config(digits, ["data.path=houses.csv"])
    # and doing so works; a config that never named a dataset takes the path alone
    assert load_config(digits, ["data.path=houses.csv", "data.dataset=null"]).data.path == "houses.csv"
    assert load_config("-", ["data.path=houses.csv"], text="seed: 0\n").data.dataset is None
