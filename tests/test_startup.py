"""Start-up: the dataset cache, the hand-written pieces that spare the train path scikit-learn's
import (each proved equal to scikit-learn's), and what a second `nncli train` imports."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nncli import proctime
from nncli.data import cache, datasets
from nncli.data.splits import approximate_mode

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the stratified split's counts
def test_approximate_mode_draws_as_scikit_learns():
    from sklearn.utils.extmath import _approximate_mode

    gen = np.random.default_rng(0)
    for trial in range(300):
        counts = gen.integers(1, 40, size=gen.integers(2, 9))
        n_draws = int(gen.integers(0, counts.sum() + 1))
        ours_rng, theirs_rng = np.random.RandomState(trial), np.random.RandomState(trial)
        ours = approximate_mode(counts, n_draws, ours_rng)
        theirs = _approximate_mode(counts, n_draws, theirs_rng)
        assert np.array_equal(ours, theirs) and ours.dtype == theirs.dtype, (counts, n_draws)
        assert ours.sum() == n_draws
        # the generator is left where scikit-learn leaves it: the split's next draws agree too
        assert ours_rng.randint(1 << 30) == theirs_rng.randint(1 << 30)


# ---------------------------------------------------------------- the dataset cache
@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "c"))
    return tmp_path / "c" / "datasets"


def _no_sklearn(monkeypatch):
    def refuse(*args):
        raise AssertionError("scikit-learn was asked for a dataset the cache holds")
    monkeypatch.setattr(datasets, "_load_with_sklearn", refuse)


def test_a_second_load_reads_the_cache_in_the_directory_the_variable_names(cache_dir, monkeypatch):
    X, y, names = datasets.load_named("iris", {}, 0)
    entries = list(cache_dir.glob("iris-*.npz"))
    assert len(entries) == 1
    _no_sklearn(monkeypatch)
    X2, y2, names2 = datasets.load_named("iris", {}, 0)
    assert np.array_equal(X, X2) and X2.dtype == np.float64
    assert np.array_equal(y, y2) and y2.dtype.kind == "U"  # labels by name, as loaded first
    assert names == names2


def test_generators_are_cached_per_params_and_seed(cache_dir, monkeypatch):
    a = datasets.load_named("make_moons", {"n_samples": 50}, 0)
    b = datasets.load_named("make_moons", {"n_samples": 50}, 1)
    c = datasets.load_named("make_moons", {"n_samples": 60}, 0)
    assert len(list(cache_dir.glob("make_moons-*.npz"))) == 3
    assert not np.array_equal(a[0], b[0]) and len(c[0]) == 60
    _no_sklearn(monkeypatch)
    assert np.array_equal(datasets.load_named("make_moons", {"n_samples": 50}, 1)[0], b[0])


def test_the_key_holds_the_scikit_learn_version(cache_dir, monkeypatch):
    import sklearn

    assert cache.sklearn_version() == sklearn.__version__
    datasets.load_named("wine", {}, 0)
    monkeypatch.setattr(cache, "sklearn_version", lambda: "0.0.1")
    calls = []
    real = datasets._load_with_sklearn
    monkeypatch.setattr(datasets, "_load_with_sklearn", lambda *a: calls.append(a) or real(*a))
    datasets.load_named("wine", {}, 0)
    assert len(calls) == 1  # another version: loaded again, not read from the old entry
    assert len(list(cache_dir.glob("wine-*.npz"))) == 2


def test_a_damaged_or_pickled_entry_is_loaded_again(cache_dir):
    datasets.load_named("iris", {}, 0)
    (entry,) = cache_dir.glob("iris-*.npz")
    entry.write_bytes(b"PK\x03\x04 not a zip")
    assert cache.read(entry) is None
    X, _, _ = datasets.load_named("iris", {}, 0)
    assert cache.read(entry) is not None  # rewritten
    np.savez(entry, X=np.array([object()], dtype=object), y=np.zeros(1), names=np.array(["a"]))
    assert cache.read(entry) is None  # never unpickled
    assert np.array_equal(datasets.load_named("iris", {}, 0)[0], X)


def test_an_unwritable_cache_never_fails_a_load(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV_VAR, str(blocker))  # a file where the directory should be
    X, _, _ = datasets.load_named("iris", {}, 0)
    assert X.shape == (150, 4)


def test_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "nncli" / "datasets"


def _write_many(path, n, seed):
    X = np.full((300, 8), float(seed))
    for _ in range(n):
        cache.write(Path(path), X, np.arange(300), [f"x{k}" for k in range(8)])


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_concurrent_writers_leave_one_complete_entry(tmp_path):
    path = tmp_path / "datasets" / "d-1.npz"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_write_many, args=(path, 40, k)) for k in range(4)]
    for p in writers:
        p.start()
    seen = 0
    while any(p.is_alive() for p in writers):
        got = cache.read(path)
        if got is not None:  # a reader sees a whole entry of one writer, never a mix or a part
            X, y, names = got
            assert X.shape == (300, 8) and len(np.unique(X)) == 1 and np.array_equal(y, np.arange(300))
            seen += 1
    for p in writers:
        p.join()
        assert p.exitcode == 0
    X, _, _ = cache.read(path)
    assert X.shape == (300, 8) and len(np.unique(X)) == 1
    assert [p.name for p in path.parent.iterdir()] == ["d-1.npz"]  # no temporary file left
    assert seen > 0


# ---------------------------------------------------------------- the process's own clock
def test_process_start_is_before_now():
    started = proctime.started()
    assert started is not None  # Linux: /proc says
    assert 0 < time.perf_counter() - started < 7 * 24 * 3600


def test_the_summary_counts_start_up(nncli, tmp_path):
    cfg = tmp_path / "iris.yaml"
    cfg.write_text("name: iris\ndata: {dataset: iris}\nmodel: {hidden: [4]}\n"
                   "training: {epochs: 3}\nplots: false\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    t = summary["timings"]
    assert t["startup"] > 0 and summary["wall_time"] >= t["startup"] + t["fit"]


# ---------------------------------------------------------------- what a run imports
def _imported(args, env) -> set[str]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "nncli", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.slow
def test_a_second_train_imports_neither_scikit_learn_scipy_nor_matplotlib(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), cache.ENV_VAR: str(tmp_path / "cache")}
    cfg = tmp_path / "iris.yaml"
    cfg.write_text((ROOT / "configs" / "iris.yaml").read_text())
    args = ["train", str(cfg), "--runs-dir", str(tmp_path / "runs"), "-q"]
    first = _imported(args, env)
    assert "sklearn.datasets" in first  # the first load fills the cache
    second = _imported(args, env)
    heavy = sorted(m for m in second if m.split(".")[0] in ("sklearn", "scipy", "matplotlib", "pandas", "pyarrow"))
    assert heavy == []
    run = sorted((tmp_path / "runs").iterdir())[-1]
    deadline = time.monotonic() + 120
    while not (run / "learning_curves.png").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # drawn by a detached process after the command returned
    assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _modules_after(args, tmp_path) -> set[str]:
    """The top-level packages loaded once ``main()`` has run ``nncli ARGS`` in a fresh process."""
    code = ("import json, sys\nfrom nncli.cli import main\n"
            f"sys.argv = ['nncli', *{[str(a) for a in args]!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=False, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_a_quiet_train_imports_no_rich(tmp_path):
    """--quiet prints nothing for people, so the terminal library is not even imported; the
    same train without it does import it for its progress lines."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(int))
    (tmp_path / "c.yaml").write_text("data: {path: d.npz}\nmodel: {hidden: [4]}\ntraining: {epochs: 2}\n"
                                     "plots: false\n")
    args = ["train", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs"]
    assert "rich" not in _modules_after([*args, "--quiet", "--json"], tmp_path)
    assert "rich" in _modules_after(args, tmp_path)


def test_a_config_builds_only_the_choices_it_names():
    """Validating a config builds the optimizer, schedule and layer models it names and no
    others (pydantic's schema building is the largest part of importing the config)."""
    code = ("import json\nfrom nncli.config import OPTIMIZER_MODELS, SCHEDULE_MODELS, validate\n"
            "from nncli.config.layers import LAYER_MODELS\n"
            "validate({'optimizer': {'name': 'sgd', 'schedule': 'step'},\n"
            "          'model': {'layers': [{'dense': 4}, {'activation': 'relu'}]}})\n"
            "print(json.dumps([[n for n, m in models.items() if m.__pydantic_complete__]\n"
            "                  for models in (OPTIMIZER_MODELS, SCHEDULE_MODELS, LAYER_MODELS)]))\n")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout) == [["sgd"], ["step"], ["dense", "activation"]]


_COLLECTOR_SPY = """
import gc, json, sys
import nncli.cli.config, nncli.runner
from nncli.cli import entry

def spy(module, name):
    real = getattr(module, name)
    def seen(*args, **kwargs):
        print(json.dumps([name, gc.isenabled(), gc.get_freeze_count() > 0]), file=sys.stderr, flush=True)
        return real(*args, **kwargs)
    setattr(module, name, seen)

spy(nncli.runner, "fit")
spy(nncli.cli.config, "_load")
sys.argv = ["nncli", *sys.argv[1:]]
entry()
"""


@pytest.mark.parametrize("args,where", [(["train", "CFG", "--quiet"], "fit"),
                                        (["config", "validate", "CFG"], "_load")])
def test_the_installed_command_collects_again_once_its_imports_are_done(tmp_path, args, where):
    """``entry`` pauses the collector through start-up; a run trains, and any other command
    works, with it collecting again and the start-up objects frozen out of its sight."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(int))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {path: d.npz}\nmodel: {hidden: [4]}\ntraining: {epochs: 2}\nplots: false\n")
    argv = [str(cfg) if a == "CFG" else a for a in args] + (["--runs-dir", str(tmp_path / "runs")]
                                                            if args[0] == "train" else [])
    out = subprocess.run([sys.executable, "-c", _COLLECTOR_SPY, *argv], cwd=tmp_path, capture_output=True,
                         text=True, check=False, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    seen = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("[")]
    assert seen and all(s == [where, True, True] for s in seen), seen


def test_main_called_in_process_leaves_the_collector_alone(nncli, tmp_path):
    import gc

    frozen = gc.get_freeze_count()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {dataset: iris}\nmodel: {hidden: [4]}\ntraining: {epochs: 2}\nplots: false\n")
    assert nncli("train", cfg, "--runs-dir", tmp_path / "runs", "-q").code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
