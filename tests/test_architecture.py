"""The house rules, read from the source: imports point down only, by folder; the numeric core
(``nncli/nn``) imports nothing but NumPy, SciPy, the standard library's pure helpers and
itself; the config's choices and defaults are the core's; the CLI starts light."""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "nncli"

# layer of the house -> the layers it may import (a layer may always import itself)
LAYERS = {
    "errors": set(),
    "nn": set(),
    "config": {"errors"},
    "data": {"errors"},
    "store": {"errors"},  # the run store: runs, atomic, checkpoint, metricscsv, modelfiles
    "build": {"errors", "nn", "config", "data", "store"},
    "work": {"errors", "nn", "config", "data", "store", "build", "version", "blas"},
    "views": {"errors", "version"},
    # drawing (matplotlib) and what draws runs: plots, report
    "pictures": {"errors", "config", "store", "work", "views", "version"},
    "cli": {"errors", "nn", "config", "data", "store", "build", "work", "views", "pictures", "version", "blas"},
    "version": set(),
    "blas": set(),
}
# a module (file stem or folder) -> its layer
PLACE = {
    "errors": "errors", "paths": "errors", "memory": "errors", "proctime": "errors", "nn": "nn", "config": "config", "data": "data",
    "runs": "store", "atomic": "store", "checkpoint": "store", "runlock": "store",
    "summary": "store", "metricscsv": "store", "modelfiles": "store",
    "build": "build", "transfer": "build", "preflight": "build", "blas": "blas",
    "runner": "work", "runjob": "work", "runresults": "work", "inference": "work", "savedrun": "work", "runinput": "work", "sweep": "work", "rundata": "work", "predictions": "work", "listing": "work",
    "rundir": "work", "scores": "work", "recorder": "work", "verdict": "work", "folds": "work", "teach": "work", "sklearn": "work", "export": "work",
    "views": "views", "textplot": "views", "teachviews": "views",
    "canvas": "pictures", "figures": "pictures", "plots": "pictures", "report": "pictures",
    "teachplots": "pictures",
    "cli": "cli", "__main__": "cli", "__init__": "version",
}
# what the numeric core may import, beyond itself
CORE_MAY_IMPORT = {"numpy", "scipy", "math", "dataclasses", "typing", "__future__", "difflib", "copy", "time"}


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


def place(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def nncli_deps(names: set[str]) -> set[str]:
    deps = set()
    for n in names:
        if n.startswith("nncli."):
            part = n.split(".")[1]
            deps.add("__init__" if part == "__version__" else part)
    return deps


FILES = sorted(PKG.rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(PKG))


def test_every_module_has_a_place():
    unplaced = sorted({place(p) for p in FILES} - set(PLACE))
    assert not unplaced, f"give these modules a layer in PLACE: {unplaced}"


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_imports_point_down(path):
    layer = LAYERS_OF(path)
    allowed = LAYERS[layer] | {layer}
    deps = {PLACE[d] for d in nncli_deps(imports(path))}
    assert deps <= allowed, f"{_id(path)} ({layer}) imports from {sorted(deps - allowed)}"


def LAYERS_OF(path: Path) -> str:
    return PLACE[place(path)]


@pytest.mark.parametrize("path", sorted((PKG / "nn").rglob("*.py")), ids=_id)
def test_the_core_imports_only_numpy_scipy_and_itself(path):
    outside = {n for n in imports(path) if not n.startswith("nncli.nn")}
    tops = {n.split(".")[0] for n in outside}
    assert tops <= CORE_MAY_IMPORT, f"{_id(path)} imports {sorted(tops - CORE_MAY_IMPORT)}"
    assert not any(n.startswith("nncli") for n in outside)


def test_nothing_imports_cli():
    for path in FILES:
        if place(path) not in ("cli", "__main__"):
            assert "cli" not in nncli_deps(imports(path)), _id(path)


def test_no_module_is_too_long():
    long = {_id(p): n for p in FILES if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split these along a line a newcomer would guess: {long}"


def test_network_does_not_special_case_layer_classes():
    """Network uses layers through the contract only: it names no layer class and asks no
    layer what it is."""
    from nncli.nn import layers

    tree = ast.parse((PKG / "nn" / "network.py").read_text())
    network = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Network")
    names = {n.id for n in ast.walk(network) if isinstance(n, ast.Name)}
    layer_classes = {k for k, v in vars(layers).items() if isinstance(v, type) and k != "Layer"}
    assert not names & layer_classes
    for call in (n for n in ast.walk(network) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
        if call.func.id in ("isinstance", "hasattr", "getattr", "type"):
            first = call.args[0]
            assert not (isinstance(first, ast.Name) and first.id == "layer"), ast.unparse(call)


def test_no_class_level_mutable_state_in_layers():
    from nncli.nn import ACTIVATIONS, OUTPUT_HEADS, layers

    classes = set(ACTIVATIONS.values()) | set(OUTPUT_HEADS.values()) | {
        c for c in vars(layers).values() if isinstance(c, type) and issubclass(c, layers.Layer)}
    for cls in classes:
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if name.startswith("__"):
                    continue
                assert not isinstance(value, (dict, list, set)), f"{cls.__name__}.{name} is shared mutable state"


def test_config_choices_match_the_core_registries():
    from nncli import config
    from nncli.nn import (
        ACTIVATIONS,
        INITIALIZERS,
        LOSSES,
        OPTIMIZERS,
        OUTPUT_HEADS,
        SCHEDULES,
    )

    assert set(config.ACTIVATION_NAMES) == set(ACTIVATIONS)
    assert set(config.OUTPUT_NAMES) - {"auto"} == set(OUTPUT_HEADS)
    assert set(config.LOSS_NAMES) == set(LOSSES)
    assert set(config.OPTIMIZER_NAMES) == set(OPTIMIZERS) == set(config.OPTIMIZER_MODELS)
    assert set(config.SCHEDULE_NAMES) == set(SCHEDULES) == set(config.SCHEDULE_MODELS)
    assert set(config.INIT_NAMES) == set(INITIALIZERS)


def _constructor_defaults(cls, skip: int) -> dict:
    params = list(inspect.signature(cls.__init__).parameters.values())[1 + skip:]
    return {p.name: p.default for p in params}


SHARED_OPTIMIZER_KEYS = {"name", "lookahead", "clip_norm", "schedule"}


@pytest.mark.parametrize("name", sorted(__import__("nncli.nn", fromlist=["OPTIMIZERS"]).OPTIMIZERS))
def test_optimizer_section_mirrors_its_constructor(name):
    """One place per option: every constructor knob is a config key with the same default,
    and the config has no key the constructor does not take."""
    from nncli.config import OPTIMIZER_MODELS
    from nncli.nn import OPTIMIZERS

    expected = _constructor_defaults(OPTIMIZERS[name], skip=1)  # (self, params, ...)
    fields = {k: f.default for k, f in OPTIMIZER_MODELS[name].model_fields.items()
              if k not in SHARED_OPTIMIZER_KEYS}
    assert fields == expected


@pytest.mark.parametrize("name", sorted(__import__("nncli.nn", fromlist=["SCHEDULES"]).SCHEDULES))
def test_schedule_section_mirrors_its_constructor(name):
    from nncli.config import SCHEDULE_MODELS
    from nncli.nn import SCHEDULES

    expected = _constructor_defaults(SCHEDULES[name], skip=2)  # (self, lr0, epochs, ...)
    fields = {k: f.default for k, f in SCHEDULE_MODELS[name].model_fields.items() if k != "name"}
    assert fields == expected


def test_cli_import_is_light():
    code = ("import sys, nncli.cli; heavy = {'numpy', 'sklearn', 'scipy', 'pydantic', 'yaml'} & "
            "{m.split('.')[0] for m in sys.modules}; print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_config_reference_in_docs_is_the_schemas():
    from nncli.config.reference import reference

    docs = PKG.parent / "docs" / "config.md"
    assert docs.read_text() == reference(), "regenerate it: nncli config keys > docs/config.md"


def test_command_annotations_are_evaluated_when_defined():
    """Typer reads every command's annotations at each start of the CLI, all 17 commands for
    whichever one runs: as strings (``from __future__ import annotations``) each would be
    evaluated again then, which cost a few hundredths of a second per start."""
    import typer.main

    from nncli.cli import app

    group = typer.main.get_group(app)
    commands = [c for cmd in group.commands.values()
                for c in (cmd.commands.values() if hasattr(cmd, "commands") else [cmd])]
    assert len(commands) > 10
    for command in commands:
        fn = inspect.unwrap(command.callback)
        strings = [k for k, v in inspect.get_annotations(fn).items() if isinstance(v, str)]
        assert not strings, f"{fn.__module__}.{fn.__qualname__}: annotations {strings} are strings"
