"""Every shipped config trains, and reaches the score its header promises at full length.

A config's header carries a line such as ``# expect: test accuracy >= 0.97``; adding a config
adds it to these tests.
"""

import re
from pathlib import Path

import pytest

from nncli import runner
from nncli.config import load_config

CONFIGS = sorted(Path(__file__).resolve().parent.parent.joinpath("configs").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\w+) (accuracy|r2) >= ([0-9.]+)$", re.M)


def test_configs_are_shipped():
    assert len(CONFIGS) >= 11


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_documents_its_score(path):
    assert EXPECT.search(path.read_text()), f"{path.name} has no '# expect: ...' line"


SLOW = {"digits_cnn"}  # about 20-40 s to its score on 2 shared cores: run with the slow tests
FULL_LENGTH = [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW else p for p in CONFIGS]


@pytest.mark.parametrize("path", FULL_LENGTH, ids=lambda p: p.stem)
def test_config_reaches_its_documented_score(path, tmp_path):
    split, metric, bound = EXPECT.search(path.read_text()).groups()
    cfg = load_config(path)
    run_dir, summary = runner.train(cfg, runs_dir=tmp_path)
    assert summary["status"] == "finished"
    assert summary["final"][split][metric] >= float(bound)
    assert {p.name for p in run_dir.iterdir()} >= {"config.yaml", "metrics.csv", "summary.json", "model.npz"}
