"""Which keys a resumed run may change, and what resuming asks of a run that already finished.

The keys of ``RESUME_MAY_CHANGE`` decide how long a run trains, how often it saves and its
free text; any other key would make the continued run a different model from the one started,
so it is refused by name. Raising ``training.epochs`` continues a finished run.
"""

from __future__ import annotations

from nncli.config.load import config_to_dict
from nncli.config.schema import Config
from nncli.errors import ConfigError, UsageError

RESUME_MAY_CHANGE = ("training.epochs", "training.checkpoint_every", "description")


def check_may_change(run_dir, saved: Config, wanted: Config) -> list[str]:
    """The keys that differ; refused by name unless all are in RESUME_MAY_CHANGE (checked
    before the model is built: another model would not fit the checkpoint)."""
    keys = _differences(config_to_dict(saved), config_to_dict(wanted))
    fixed = [k for k in keys if k not in RESUME_MAY_CHANGE]
    if fixed:
        raise ConfigError(f"--resume {run_dir}: {', '.join(fixed)} differ{'s' if len(fixed) == 1 else ''} from "
                          f"the run's saved config and cannot change on resume (only "
                          f"{', '.join(RESUME_MAY_CHANGE)} may); start a new run to change "
                          f"{'it' if len(fixed) == 1 else 'them'}")
    return keys


def resume_changes(run_dir, saved: Config, wanted: Config, t: dict, status: str | None) -> dict:
    """{key: [saved, new]} of a resume; refuses keys outside RESUME_MAY_CHANGE, an epoch count
    below what the run has trained, and a finished run that nothing would continue.

    ``t``: the checkpoint's trainer state (epoch, batch, stop_reason); ``status``: the
    run's recorded status."""
    old, new = config_to_dict(saved), config_to_dict(wanted)
    keys = check_may_change(run_dir, saved, wanted)
    changed = {k: [_get(old, k), _get(new, k)] for k in keys}
    epochs = wanted.training.epochs
    if epochs < t["epoch"] or (epochs == t["epoch"] and t["batch"]):
        raise ConfigError(f"training.epochs: {run_dir} has trained {t['epoch']} epochs"
                          f"{' and part of the next' if t['batch'] else ''}; expected at least "
                          f"{t['epoch'] + bool(t['batch'])}, got {epochs}")
    done = t["stop_reason"] is not None or (t["epoch"] >= saved.training.epochs and not t["batch"])
    if done and status == "finished":
        if t["stop_reason"] is not None and "training.epochs" in changed:
            raise UsageError(f"--resume {run_dir}: the run stopped early ({t['stop_reason']}), so more "
                             "epochs would not train it further")
        if "training.epochs" not in changed:
            raise UsageError(f"--resume {run_dir}: the run is finished ({t['epoch']} of "
                             f"{saved.training.epochs} epochs); nothing to resume. To train it longer: "
                             f"nncli train --resume {run_dir} --set training.epochs=N")
    return changed


def _get(tree: dict, dotted_key: str):
    for k in dotted_key.split("."):
        tree = tree.get(k) if isinstance(tree, dict) else None
    return tree


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            keys += _differences(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            keys.append(prefix + k)
    return keys
