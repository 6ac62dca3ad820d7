"""Starting a network from another run's weights (``model.init_from``) and freezing layers
(``model.freeze``).

A module of its own because it reaches outside the config being built: it reads a second run
from the run store and matches its saved layers to the new network by name and shape (and its
input columns by name). build.py calls it with plain values.
"""

from __future__ import annotations

from nncli import modelfiles, runs
from nncli.errors import ConfigError
from nncli.nn import Network


def frozen_layers(net: Network, freeze) -> list[int]:
    """The layer indices ``model.freeze`` names: the first N blocks, or layers by name or index."""
    if isinstance(freeze, int):
        if freeze > len(net.blocks):
            raise ConfigError(f"model.freeze: expected at most {len(net.blocks)} layers, got {freeze}")
        return [i for b in net.blocks[:freeze] for i in b]
    out = []
    for which in freeze:
        try:
            out.append(net.index(which))
        except ValueError as e:
            raise ConfigError(f"model.freeze: {e}") from None
    return sorted(set(out))


def align_inputs(net: Network, source: dict, base: list[str], names: list[str]) -> str | None:
    """Rows of the base run's first dense layer re-ordered to this model's input columns, by
    name: the same columns in another order carry over exactly; a column the base did not
    have keeps its fresh weights. Returns a note, or None when nothing needed aligning."""
    if base == names:
        return None
    for i, (lname, layer) in enumerate(zip(net.names, net.layers)):
        own = net.layer_state(i)
        if "W" not in own:
            continue
        W = source.get(f"{lname}.W")
        if W is None or W.ndim != 2 or W.shape[0] != len(base) or W.shape[1] != own["W"].shape[1]:
            return None
        where = {n: k for k, n in enumerate(base)}
        common = [n for n in names if n in where]
        if not common:
            return None
        aligned = own["W"].copy()
        for k, n in enumerate(names):
            if n in where:
                aligned[k] = W[where[n]]
        source[f"{lname}.W"] = aligned
        return f"{lname}: {len(common)} of {len(names)} input columns matched by name"
    return None


def load_transfer(net: Network, run: str, frozen: list[int], runs_dir="runs", names=None) -> dict:
    """Start from another run's weights, layer by layer: a layer is loaded whole when the run
    has a layer of the same name with the same shapes, and otherwise keeps its fresh start (a
    new head). A frozen layer must be loaded: freezing random weights is refused."""
    run_dir = runs.resolve_run(run, runs_dir)
    arrays = modelfiles.load_model_arrays(run_dir)
    source = {k[4:]: v for k, v in arrays.items() if k.startswith("net.")}
    base = [str(s) for s in arrays["enc.names"]] if "enc.names" in arrays else None
    aligned = align_inputs(net, source, base, names) if base is not None and names is not None else None
    loaded, fresh = [], []
    for i, (name, layer) in enumerate(zip(net.names, net.layers)):
        own = net.layer_state(i)
        if not own:
            continue
        theirs = {k: source.get(f"{name}.{k}") for k in own}
        if all(v is not None and v.shape == own[k].shape for k, v in theirs.items()):
            for k, arr in own.items():
                arr[...] = theirs[k]
            loaded.append(name)
        else:
            if i in frozen:
                shapes = {k: None if v is None else list(v.shape) for k, v in theirs.items()}
                raise ConfigError(f"model.freeze: layer {name} is frozen but {run_dir} has no layer {name} of "
                                  f"the same shapes (this model: { {k: list(a.shape) for k, a in own.items()} }, "
                                  f"the run: {shapes}); freezing it would keep random weights")
            fresh.append(name)
    if not loaded:
        raise ConfigError(f"model.init_from: no layer of {run_dir} matches this model's shapes")
    out = {"from": str(run_dir), "loaded": loaded, "reinitialized": fresh,
           "frozen": [net.names[i] for i in frozen]}
    if aligned:
        out["inputs"] = aligned
    return out
