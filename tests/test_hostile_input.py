"""Input found by fuzzing that once ended in a traceback: each is now one line and exit 2 or 4.

Configs and ``--set`` values with characters YAML forbids, paths no file system accepts,
damaged or crafted run files, oversized configs, edited run directories.
"""

from __future__ import annotations

import pytest
from helpers import write

IRIS = """\
name: iris
seed: 1
data: {dataset: iris, validation: 0.2, test: 0.2}
model: {hidden: [8]}
training: {epochs: 2, batch_size: 16}
"""


def one_clean_line(r, code: int) -> None:
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err and r.out == ""
    # the error and any continuation lines; training may first print a line about its data
    errors = [line for line in r.err.strip().splitlines() if line.startswith(("error: ", " "))]
    assert len(errors) == 1 and r.err.strip().splitlines()[-1] == errors[0], r.err


# ---------------------------------------------------------------- characters YAML forbids
@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\ud800"],
                         ids=["nul", "soh", "esc", "del", "surrogate"])
def test_forbidden_characters_in_a_config_file_exit_2_with_line_and_column(char, tmp_path, nncli):
    path = tmp_path / "cfg.yaml"
    path.write_bytes(f"name: iris\ndescription: a{char}b\n".encode("utf-8", "surrogatepass"))
    r = nncli("config", "validate", path)
    if char == "\ud800":  # not UTF-8 at all: refused as such before YAML sees it
        one_clean_line(r, 2)
        assert "UTF-8" in r.err
        return
    one_clean_line(r, 2)
    assert f"{path}:2:15: invalid YAML: character U+{ord(char):04X}" in r.err


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
def test_forbidden_characters_in_set_values_and_stdin_exit_2(char, tmp_path, nncli):
    cfg = write(tmp_path / "cfg.yaml", IRIS)
    r = nncli("train", cfg, "--set", f"description=a{char}b", "--runs-dir", tmp_path / "runs")
    one_clean_line(r, 2)
    assert "override" in r.err and f"U+{ord(char):04X}" in r.err
    assert char not in r.err  # shown escaped, never raw
    r = nncli("config", "validate", "-", stdin=IRIS + f"description: x{char}\n")
    one_clean_line(r, 2)
    assert "<stdin>:6:" in r.err
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- paths no file system accepts
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(runs dir, run dir, a features CSV) of one small finished run."""
    from nncli import runner
    from nncli.config import load_config

    root = tmp_path_factory.mktemp("trained")
    run_dir, _ = runner.train(load_config(write(root / "iris.yaml", IRIS)), runs_dir=root / "runs")
    features = write(root / "features.csv", "sepal length (cm),sepal width (cm),petal length (cm),"
                                            "petal width (cm)\n5.1,3.5,1.4,0.2\n")
    return root / "runs", run_dir, features


BAD_PATHS = {
    "long-name": "x" * 300,
    "long-path": "d/" * 2100 + "f",
    "nul": "runs\x00evil",
}
COMMANDS = {
    "config-validate": lambda p, t: ("config", "validate", p),
    "config-show": lambda p, t: ("config", "show", p),
    "train-config": lambda p, t: ("train", p),
    "train-runs-dir": lambda p, t: ("train", t[3], "--runs-dir", p),
    "train-resume": lambda p, t: ("train", "--resume", p, "--runs-dir", t[0]),
    "sweep-config": lambda p, t: ("sweep", p, "--grid", "seed=[1,2]"),
    "evaluate-run": lambda p, t: ("evaluate", p, "--runs-dir", t[0]),
    "evaluate-runs-dir": lambda p, t: ("evaluate", "iris", "--runs-dir", p),
    "evaluate-data": lambda p, t: ("evaluate", t[1], "--data", p),
    "predict-run": lambda p, t: ("predict", p, "--input", t[2], "--runs-dir", t[0]),
    "predict-input": lambda p, t: ("predict", t[1], "--input", p),
    "predict-output": lambda p, t: ("predict", t[1], "--input", t[2], "--output", p),
    "runs": lambda p, t: ("runs", p),
    "set-data-path": lambda p, t: ("train", t[3], "--set", f"data.path={_yaml_str(p + '.csv')}",
                                   "--runs-dir", t[0]),
    "set-init-from": lambda p, t: ("train", t[3], "--set", f"model.init_from={_yaml_str(p)}",
                                   "--runs-dir", t[0]),
}


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\x00", "\\0") + '"'


@pytest.mark.parametrize("bad", list(BAD_PATHS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_impossible_paths_are_one_line_errors(command, bad, trained, tmp_path, nncli):
    runs_dir, run, features = trained
    cfg = write(tmp_path / "iris.yaml", IRIS)
    args = COMMANDS[command](BAD_PATHS[bad], (runs_dir, run, features, cfg))
    before = sorted(p.name for p in runs_dir.iterdir())
    r = nncli(*args)
    assert r.code in (2, 4), (r.code, r.err)
    assert "Traceback" not in r.err and r.out == ""
    # one line of nncli's own, or click's usage block for an option it converts itself
    errors = [line for line in r.err.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1 and len(r.err.strip().splitlines()) <= 4, r.err
    assert "\x00" not in r.err  # a NUL byte is shown escaped
    assert ("NUL" in r.err or "null byte" in r.err) if bad == "nul" else "bytes" in r.err
    assert len(r.err) < 600  # a path thousands of bytes long is shortened in the message
    assert sorted(p.name for p in runs_dir.iterdir()) == before


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_symbolic_link_as_runs_dir_is_named_as_such(kind, tmp_path, nncli):
    link = tmp_path / "runs"
    if kind == "dangling":
        link.symlink_to(tmp_path / "gone")
    else:
        link.symlink_to(tmp_path / "runs")
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("train", cfg, "--runs-dir", link)
    one_clean_line(r, 4)
    assert str(link) in r.err and "symbolic link" in r.err
    assert ("does not exist" if kind == "dangling" else "loop") in r.err
    assert "File exists" not in r.err


# ---------------------------------------------------------------- values the schema let through
def test_seed_beyond_32_bits_is_refused_at_validation(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("config", "validate", cfg, "--set", "seed=4294967296")
    assert r.code == 2 and "seed" in r.err and "4294967295" in r.err and "Traceback" not in r.err
    r = nncli("train", cfg, "--set", "seed=4294967295", "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err  # the largest seed trains


# ---------------------------------------------------------------- hand-edited run files
WRONG_TYPES = [{"final": "x"}, {"final": {"validation": {"accuracy": "0.9"}}}, {"final": {"test": "x"}},
               {"final": [1]}, {"status": 3}, {"resumed": 5}, {"resumed": ["x"]}, {"wall_time": "a"},
               {"lr": "x"}, {"name": 5}, {"task": 5}, {"epochs_run": "3"}, {"hidden": "8"},
               {"dataset": ["iris"]}, {"best": 1}, {"segments": 3}]


@pytest.mark.parametrize("sort", ["dir", "name", "status", "val", "test", "time", "lr"])
def test_runs_lists_summaries_with_wrong_typed_values(sort, tmp_path, nncli):
    import json

    from nncli import runs

    root = tmp_path / "runs"
    for i, values in enumerate(WRONG_TYPES):
        run = runs.claim_run_dir(root, f"r{i}")
        write(run / "config.yaml", IRIS)
        write(run / "summary.json", json.dumps({"task": "classification", "status": "finished", **values}))
    r = nncli("runs", root, "--sort", sort)
    assert r.code == 0, r.err
    assert f"{len(WRONG_TYPES)} runs" in r.err  # the title; the table is stdout
    r = nncli("runs", root, "--sort", sort, "--json")
    assert r.code == 0, r.err
    rows = {row["dir"].rsplit("-", 1)[1]: row for row in json.loads(r.out)}
    for i, values in enumerate(WRONG_TYPES):
        (key, value), = values.items()
        assert rows[f"r{i}"].get(key) != value and rows[f"r{i}"]["damaged"] == [key]


# ---------------------------------------------------------------- configs too big to fit
@pytest.mark.parametrize("override, key", [
    ("model.hidden=[1000000000]", "model.hidden"),
    ("model.hidden=[100000, 100000]", "model.hidden"),
    ("data.params={n_samples: 1e10}", "data.params.n_samples"),
    ("data.params={n_samples: 2000000, n_features: 5000}", "data.params.n_samples"),
    ("model.maxout_pieces=100000000", "model.maxout_pieces"),
    ("data.polynomial=10", "data.polynomial"),
])
def test_a_config_that_cannot_fit_in_memory_is_refused_naming_the_estimate(override, key, tmp_path, nncli):
    base = IRIS.replace("dataset: iris", "dataset: make_classification") + "\n"
    extra = ["--set", "model.activation=maxout"] if "maxout" in override else []
    extra += ["--set", "data.params={n_features: 200}"] if "polynomial" in override else []
    cfg = write(tmp_path / "big.yaml", base)
    for command in (("config", "validate"), ("train",)):
        r = nncli(*command, cfg, *extra, "--set", override, "--runs-dir", tmp_path / "runs") \
            if command == ("train",) else nncli(*command, cfg, *extra, "--set", override)
        one_clean_line(r, 2)
        assert f"{key}: the model and data would need about" in r.err
        assert "TB" in r.err or "GB" in r.err or "PB" in r.err
        assert "available" in r.err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("model", [
    "{hidden: [8]}", "{hidden: []}", "{hidden: [16, 8], batch_norm: true}", "{hidden: [12], bias: false}",
    "{hidden: [10, 6], activation: [maxout, prelu], maxout_pieces: 3}", "{hidden: [5], activation: prelu}",
])
@pytest.mark.parametrize("data", ["{dataset: iris}", "{dataset: digits, polynomial: 2}",
                                  "{dataset: make_regression, params: {n_features: 7, n_targets: 2}}",
                                  "{dataset: make_blobs, params: {centers: 5}}"])
def test_the_estimate_counts_exactly_the_parameters_the_network_has(model, data, tmp_path):
    from nncli.build import build, load_data
    from nncli.config import load_config
    from nncli.config.resources import estimate

    cfg = load_config(write(tmp_path / "cfg.yaml", f"data: {data}\nmodel: {model}\n"))
    parts = build(cfg, load_data(cfg))
    assert estimate(cfg).n_params == parts.net.theta.size


def test_resume_with_a_summary_of_wrong_types(tmp_path, nncli):
    import json

    from nncli import runner
    from nncli.config import load_config
    from nncli.errors import Interrupted
    from nncli.nn import Callback

    stop = runner.StopFlag()

    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            stop.signame = "sigint"

    cfg = load_config(write(tmp_path / "iris.yaml", IRIS))
    with pytest.raises(Interrupted):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAfterFirstEpoch()], stop=stop)
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    summary.update(resumed=5, status=3, final="x", wall_time="long", segments={"a": 1})
    (run / "summary.json").write_text(json.dumps(summary))
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    done = json.loads((run / "summary.json").read_text())
    assert done["status"] == "finished" and len(done["resumed"]) == 1 and "damaged" not in done
    assert done["final"]["test"]["accuracy"] >= 0
