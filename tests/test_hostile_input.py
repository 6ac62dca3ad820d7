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
    assert len(r.err.strip().splitlines()) == 1, r.err


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
