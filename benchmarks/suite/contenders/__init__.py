"""Who trains: the contenders by name.

Each contender names the packages it needs (missing ones skip it with the reason in the report),
the module holding one function per workload kind (`fits`), and the table rows it produces
(row label -> key of its result: JAX and Keras give a row with compilation and one without).

A fit function runs in a fresh child: `fit(workload, data, epochs, meter) -> (predictions,
extra)`; it times its own fit inside `with meter:` and may add keys to `extra` (a second
timing, threads). A contender with `parent=True` runs whole commands from the parent instead:
`run(name, workload, tmp, env, cli) -> dict | None` with at least "fit" (seconds) and "score",
finding the workload's files as tmp/NAME.npz (the split) and tmp/NAME.yaml (its nncli config).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

# the OpenBLAS pins of this machine; children run without them unless a contender keeps them
PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Contender:
    module: str  # the module holding its functions
    fits: dict[str, str]  # workload kind -> function name in the module
    needs: tuple[str, ...] = ()  # importable packages it needs
    rows: dict[str, str] | None = None  # table row -> result key; default {name: "fit"}
    env: dict[str, str] = field(default_factory=dict)  # extra environment of its children
    pinned: bool = False  # keep PINS as inherited (a reference), whatever --pinned says
    only: tuple[str, ...] = ()  # workloads it runs on (empty: every workload of a kind it fits)
    install: str = ""  # how to get it, for the skip message
    parent: bool = False  # runs commands from the parent (`run(name, workload, tmp, env, cli)`), not a fit in a child

    def fit_function(self, kind: str):
        return getattr(importlib.import_module(self.module), self.fits[kind])


NO_VAL = "nncli core (no validation)"
PINNED_CORE = "nncli core (pinned kernels)"

_HERE = "suite.contenders."
CONTENDERS = {
    "nncli core": Contender(_HERE + "nncli_core", {"mlp": "fit_mlp"}, ("numpy", "threadpoolctl")),
    "nncli train": Contender("suite.cli", {"mlp": "train_workload"}, parent=True),  # the whole CLI
    "scikit-learn": Contender(_HERE + "sklearn_mlp", {"mlp": "fit_mlp"}, ("sklearn",)),
    "pytorch": Contender(_HERE + "torch_mlp", {"mlp": "fit_mlp"}, ("torch",), install="pip install torch"),
    "jax": Contender(_HERE + "jax_mlp", {"mlp": "fit_mlp"}, ("jax", "jaxlib", "optax"),
                     {"jax, incl. compile": "fit", "jax, compiled": "fit_warm"},
                     install="pip install jax jaxlib optax"),
    "keras": Contender(_HERE + "keras_mlp", {"mlp": "fit_mlp"}, ("keras", "jax"),
                       {"keras 3 (jax), incl. compile": "fit", "keras 3 (jax), compiled": "fit_warm"},
                       env={"KERAS_BACKEND": "jax"}, install="pip install keras jax jaxlib"),
    # references: the validation share of nncli's fit, and nncli with the machine's pinned kernels
    NO_VAL: Contender(_HERE + "nncli_core", {"mlp": "fit_mlp_no_validation"}, ("numpy",), only=("digits",)),
    PINNED_CORE: Contender(_HERE + "nncli_core", {"mlp": "fit_mlp"}, ("numpy",), pinned=True),
}


def rows(name: str) -> dict[str, str]:
    return CONTENDERS[name].rows or {name: "fit"}


def missing(name: str) -> str | None:
    """Why the contender cannot run here, or None."""
    c = CONTENDERS[name]
    absent = [p for p in c.needs if importlib.util.find_spec(p) is None]
    if absent:
        return f"{', '.join(absent)} not installed" + (f" ({c.install})" if c.install else "")
    return None
