"""The house rules, read from the source: imports point down only, the numeric core knows
nothing of YAML, files or terminals, the config's choices match the core's registries, and
the CLI starts without importing the heavy libraries."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "nncli"
CORE = {"activations", "initializers", "losses", "model", "optim", "schedules", "train"}

# module -> the nncli modules it may import
ALLOWED = {
    "errors": set(),
    "activations": {"errors"},
    "losses": {"errors", "activations"},
    "initializers": set(),
    "model": {"errors", "activations", "initializers"},
    "optim": {"errors"},
    "schedules": {"errors"},
    "train": {"errors"},
    "schema": {"errors"},
    "safeyaml": {"errors"},
    "config": {"errors", "schema", "safeyaml"},
    "data": {"errors", "datafiles"},
    "datafiles": {"errors"},
    "atomic": {"errors"},
    "runs": {"errors", "atomic"},
    "build": {"errors", "config", "schema", "data", "datafiles", "runs", "atomic"} | CORE,
    "inference": {"errors", "config", "schema", "data", "datafiles", "runs", "atomic", "build"} | CORE,
    "runner": {"errors", "config", "schema", "data", "datafiles", "runs", "atomic", "build", "inference",
               "__init__"} | CORE,
    "views": {"textplot"},
    "textplot": set(),
    "canvas": {"errors"},
    "figures": {"canvas"},
    "rundata": {"errors", "runs", "config", "build", "inference"},
    "plots": {"errors", "runs", "canvas", "figures", "rundata"},
    "report": {"errors", "runs", "canvas", "figures", "plots", "rundata", "__init__"},
    "cli": {"errors", "config", "runner", "runs", "atomic", "train", "views", "plots", "report", "rundata",
            "__init__"},
    "__main__": {"cli"},
    "__init__": set(),
}
# what the numeric core must never touch
NOT_IN_CORE = {"yaml", "pydantic", "typer", "rich", "click", "os", "sys", "pathlib", "csv", "io",
               "shutil", "tempfile", "signal", "sklearn"}


def imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file, including inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "nncli":  # from nncli import runs, __version__
                names |= {f"nncli.{a.name}" for a in node.names}
            else:
                names.add(node.module)
    return names


def nncli_deps(names: set[str]) -> set[str]:
    deps = set()
    for n in names:
        if n.startswith("nncli."):
            part = n.split(".")[1]
            deps.add(part if (PKG / f"{part}.py").exists() else "__init__")
    return deps


MODULES = sorted(p.stem for p in PKG.glob("*.py"))


def test_every_module_is_placed():
    assert set(MODULES) == set(ALLOWED), "add the new module to ALLOWED with what it may import"


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module):
    deps = nncli_deps(imports(PKG / f"{module}.py")) - {module}
    assert deps <= ALLOWED[module], f"{module} imports {sorted(deps - ALLOWED[module])}"


@pytest.mark.parametrize("module", sorted(CORE))
def test_core_knows_nothing_of_files_yaml_or_terminals(module):
    top = {n.split(".")[0] for n in imports(PKG / f"{module}.py")}
    assert not top & NOT_IN_CORE, f"{module} imports {sorted(top & NOT_IN_CORE)}"


def test_nothing_imports_cli():
    for module in MODULES:
        if module not in ("cli", "__main__"):
            assert "cli" not in nncli_deps(imports(PKG / f"{module}.py")), module


def test_config_choices_match_the_core_registries():
    from nncli import activations, config, losses, model, optim, schedules

    assert set(config.ACTIVATION_NAMES) == set(activations.ACTIVATIONS)
    assert set(config.OUTPUT_NAMES) - {"auto"} == set(activations.OUTPUT_HEADS)
    assert set(config.LOSS_NAMES) == set(losses.LOSSES)
    assert set(config.OPTIMIZER_NAMES) == set(optim.OPTIMIZERS)
    assert set(config.SCHEDULE_NAMES) == set(schedules.SCHEDULES)
    assert set(config.INIT_NAMES) == set(model.INITIALIZERS)


def test_cli_import_is_light():
    code = ("import sys, nncli.cli; heavy = {'numpy', 'sklearn', 'scipy', 'pydantic', 'yaml'} & "
            "{m.split('.')[0] for m in sys.modules}; print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
