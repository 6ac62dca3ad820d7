"""Help that follows clig.dev and Typer's conventions, and the commands that read configs:
examples for every command, -h, flags without a type, RUN rather than {run}, `runs --runs-dir`,
`config validate` on many files, `config show` without one."""

import re

import pytest
import yaml
from helpers import write

from nncli.config import config_to_dict, load_config

COMMANDS = [["train"], ["sweep"], ["evaluate"], ["predict"], ["runs"], ["config", "show"],
            ["config", "validate"], ["config", "keys"], ["config", "schema"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_an_example_and_takes_h(command, nncli):
    long, short = nncli(*command, "--help"), nncli(*command, "-h")
    assert long.code == short.code == 0
    assert long.out == short.out
    examples = long.out.split("Examples:")[1]
    assert f"nncli {' '.join(command)} " in examples
    assert "<bool>" not in long.out  # a flag takes no value: --json, never --json <bool>
    assert "{" not in long.out.split("\n\n")[1]  # the usage line: RUN, not {run}


def test_usage_names_arguments_in_capitals(nncli):
    assert re.search(r"evaluate \[OPTIONS\] RUN *\n", nncli("evaluate", "-h").out)
    assert re.search(r"train \[OPTIONS\] \[CONFIG\] *\n", nncli("train", "-h").out)
    assert re.search(r"validate \[OPTIONS\] CONFIG\.\.\. *\n", nncli("config", "validate", "-h").out)
    top = nncli("-h")
    assert top.code == 0 and "Examples:" in top.out and "<bool>" not in top.out


def test_runs_takes_runs_dir_like_every_other_command(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", "data: {dataset: iris}\ntraining: {epochs: 1}\n")
    run = nncli("train", cfg, "--runs-dir", tmp_path / "r", "--quiet").out.strip()
    listed = nncli("runs", "--runs-dir", tmp_path / "r", "--json")
    assert listed.code == 0 and [r["dir"] for r in yaml.safe_load(listed.out)] == [run]
    assert yaml.safe_load(nncli("runs", tmp_path / "r", "--json").out) == yaml.safe_load(listed.out)  # as before
    assert "DIRECTORY" not in nncli("runs", "-h").out


def test_config_show_without_a_file_prints_the_defaults(nncli):
    r = nncli("config", "show")
    assert r.code == 0
    assert config_to_dict(load_config("-", text=r.out)) == config_to_dict(load_config("-", text="{}\n"))
    r = nncli("config", "show", "--set", "optimizer=sgd")
    assert yaml.safe_load(r.out)["optimizer"]["name"] == "sgd"


def test_config_validate_takes_many_files_one_line_each(tmp_path, nncli):
    good = write(tmp_path / "good.yaml", "data: {dataset: iris}\n")
    also = write(tmp_path / "also.yaml", "data: {dataset: wine}\n")
    r = nncli("config", "validate", good, also)
    assert r.code == 0 and r.out.splitlines() == [f"{good}: ok", f"{also}: ok"]
    bad = write(tmp_path / "bad.yaml", "optimizer: {lr: fast, momentum: 2}\n")
    r = nncli("config", "validate", good, bad, also)
    assert r.code == 2
    assert r.out.splitlines() == [f"{good}: ok", f"{also}: ok"]  # the verdicts; problems are errors
    lines = r.err.splitlines()
    assert lines[0] == f"error: {bad}: 2 problems in the config"
    assert lines[1].startswith(f"  {bad}:1: optimizer.lr: expected a number")


@pytest.mark.parametrize("text,says", [
    ("data: {dataset: make_moons, params: {nosie: 0.1}}",
     "data.params.nosie: make_moons has no parameter 'nosie'; accepted: n_samples, noise, random_state, "
     "shuffle (did you mean 'noise'?)"),
    ("data: {path: no-such-file.csv}", "data.path: no such file '{tmp}/no-such-file.csv'"),  # beside the config
    ("model: {init_from: no-such-run}", "model.init_from: no run 'no-such-run': not a directory and no run"),
    ("data: {path: x.csv, params: {noise: 0.1}}", "data.params: {\"noise\": 0.1} has no effect"),
])
def test_what_used_to_fail_at_train_time_fails_validate_and_train_alike(text, says, tmp_path, nncli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.csv", "a,y\n1,0\n2,1\n")
    cfg = write(tmp_path / "cfg.yaml", text + "\ntraining: {epochs: 1}\n")
    says = says.replace("{tmp}", str(tmp_path))
    r = nncli("config", "validate", cfg)
    assert r.code == 2 and says in r.err and r.out == "", r.err
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and says in r.err, r.err
    assert not (tmp_path / "runs").exists()


def test_init_from_a_name_looks_in_runs_dir_for_validate_and_train(tmp_path, nncli, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./runs here: the name must be found in --runs-dir
    root = tmp_path / "elsewhere"
    base = write(tmp_path / "base.yaml", "data: {dataset: iris}\nmodel: {hidden: [8]}\ntraining: {epochs: 2}\n")
    assert nncli("train", base, "--runs-dir", root, "--quiet").code == 0
    tuned = write(tmp_path / "tuned.yaml", "data: {dataset: iris}\nmodel: {hidden: [8], init_from: base, freeze: 1}\n"
                                           "training: {epochs: 2}\n")
    assert nncli("config", "validate", tuned).code == 2  # not in ./runs
    r = nncli("config", "validate", tuned, "--runs-dir", root)
    assert r.code == 0 and r.out == f"{tuned}: ok\n"
    r = nncli("train", tuned, "--runs-dir", root, "--quiet")
    assert r.code == 0, r.err
    summary = yaml.safe_load((tmp_path / r.out.strip() / "summary.json").read_text())
    assert summary["transfer"]["from"].startswith(str(root)) and summary["transfer"]["frozen"][0] == "dense0"
