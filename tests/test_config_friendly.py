"""Configs as a newcomer writes them: run names from the file, names from scikit-learn and Keras,
shorthands, and problems found by `config validate` rather than halfway into `train`."""

import os

import pytest
import yaml
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
    path = load_config(digits, ["data.path=houses.csv", "data.dataset=null"]).data.path
    assert path == os.path.abspath("houses.csv")  # an override's path: from where the command was typed
    assert load_config("-", ["data.path=houses.csv"], text="seed: 0\n").data.dataset is None


# ---------------------------------------------------------------- shorthands on the command line
@pytest.mark.parametrize("override,expect", [
    ("training.early_stopping=false", ("training", "early_stopping", None)),
    ("training.early_stopping=null", ("training", "early_stopping", None)),
    ("training.early_stopping=true", ("training", "early_stopping", "on")),
    ("training.early_stopping.patience=3", ("training", "early_stopping", "on")),
    ("optimizer=sgd", ("optimizer", "name", "sgd")),
    ("optimizer=adam", ("optimizer", "name", "adam")),
    ("loss=mse", ("loss", "name", "mse")),
    ("loss=categorical_crossentropy", ("loss", "name", "cross_entropy")),
    ("optimizer.schedule=step", ("optimizer", "schedule", "step")),
])
def test_every_shorthand_works_as_an_override(override, expect, tmp_path, nncli):
    cfg = write(tmp_path / "cfg.yaml", "training: {early_stopping: false}\noptimizer: {name: rmsprop}\n")
    r = nncli("config", "show", cfg, "--set", override)
    assert r.code == 0, r.err
    section, key, value = expect
    got = yaml.safe_load(r.out)[section][key]
    if value == "on":
        assert isinstance(got, dict) and set(got) >= {"monitor", "patience", "restore_best"}
    elif key == "schedule":
        assert got["name"] == value
    else:
        assert got == value


def test_a_key_of_a_schedule_that_is_off_is_refused_naming_the_key_to_set(tmp_path, nncli):
    r = nncli("config", "validate", "-", "--set", "optimizer.schedule.gamma=0.5", stdin="seed: 0\n")
    assert r.code == 2
    assert "optimizer.schedule.gamma: 'gamma' does nothing with optimizer.schedule.name constant" in r.err
    assert "set optimizer.schedule.name to use it" in r.err


# ---------------------------------------------------------------- what used to be ignored
def test_sgd_applies_its_momentum(tmp_path):
    from helpers import load_arrays

    from nncli import runner

    def weights(optimizer: str) -> dict:
        text = f"data: {{dataset: iris}}\noptimizer: {optimizer}\ntraining: {{epochs: 3, early_stopping: false}}\n"
        run, _ = runner.train(load_config("-", text=text), runs_dir=tmp_path)
        return load_arrays(run / "model.npz")["net.dense0.W"]

    plain = weights("{name: sgd, lr: 0.05}")
    heavy = weights("{name: sgd, lr: 0.05, momentum: 0.9}")
    assert not (plain == heavy).all()
    assert (heavy == weights("{name: momentum, lr: 0.05}")).all()  # momentum is sgd with 0.9
    assert (weights("{name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}") == weights("{name: nesterov, lr: 0.05}")).all()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "null\n"])
def test_an_empty_config_trains_nothing(text, tmp_path, nncli):
    r = nncli("train", write(tmp_path / "empty.yaml", text), "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "the config is empty" in r.err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text,says", [
    ("data: {dataset: diabetes}\nloss: binary_crossentropy",
     "loss.name: binary_cross_entropy needs a classification task"),
    ("data: {dataset: iris}\ntraining: {early_stopping: {monitor: val_r2}}",
     "training.early_stopping.monitor: expected auto, val_loss, loss or val_accuracy for a classification task"),
    ("data: {dataset: iris, validation: 0}\ntraining: {early_stopping: {monitor: val_loss}}",
     "training.early_stopping.monitor: val_loss needs a validation split"),
    ("model: {batch_norm: true}\ntraining: {batch_size: 1}",
     "training.batch_size: batch norm needs batches of at least 2 samples"),
])
def test_validate_knows_the_task_of_a_built_in_dataset(text, says, tmp_path, nncli):
    cfg = write(tmp_path / "cfg.yaml", text + "\n")
    r = nncli("config", "validate", cfg)
    assert r.code == 2 and says in r.err
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and says in r.err and not (tmp_path / "runs").exists()
