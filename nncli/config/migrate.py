"""Configs saved by older versions, brought to today's schema without changing their meaning.

A saved config without data.target_scaling predates it: its run trained on unscaled targets.
nncli 0.1 (run format 1) saved every optimizer and schedule knob whatever the name (and ignored
the ones the name did not use, such as sgd's momentum); today such a key is refused, so it is
dropped here. Knobs that only some activations, inits or losses use are dropped the same way, and so are the
settings of an early stopping that ``enabled: false`` switched off.
"""

from __future__ import annotations

import copy

from nncli.config.optimizers import OPTIMIZER_MODELS, SCHEDULE_MODELS

_MODEL_KNOBS = {"leaky_slope": ("leaky_relu", "prelu"), "maxout_pieces": ("maxout",)}


def migrate(data: dict, run_format: int) -> dict:
    """``data`` (a parsed run config) as the current schema reads it."""
    if not isinstance(data, dict):
        return data
    data = copy.deepcopy(data)
    section = data.get("data")
    if isinstance(section, dict):  # a saved config without the key was trained on unscaled targets
        section.setdefault("target_scaling", "none")
    if run_format >= 2:
        return data
    opt = data.get("optimizer")
    if isinstance(opt, dict) and opt.get("name") in OPTIMIZER_MODELS:
        keep = set(OPTIMIZER_MODELS[opt["name"]].model_fields)
        if opt["name"] == "sgd":
            keep.discard("momentum")  # 0.1 trained plain sgd whatever momentum said
        data["optimizer"] = {k: v for k, v in opt.items() if k in keep}
        sched = opt.get("schedule")
        if isinstance(sched, dict) and sched.get("name") in SCHEDULE_MODELS:
            fields = SCHEDULE_MODELS[sched["name"]].model_fields
            data["optimizer"]["schedule"] = {k: v for k, v in sched.items() if k in fields}
    model = data.get("model")
    if isinstance(model, dict):
        acts = model.get("activation")
        acts = {acts} if isinstance(acts, str) else set(acts or ())
        for knob, users in _MODEL_KNOBS.items():
            if not acts & set(users):
                model.pop(knob, None)
        if model.get("init") != "normal":
            model.pop("init_scale", None)
    loss = data.get("loss")
    if isinstance(loss, dict) and loss.get("name") != "huber":
        loss.pop("huber_delta", None)
    training = data.get("training")
    es = training.get("early_stopping") if isinstance(training, dict) else None
    if isinstance(es, dict) and es.get("enabled") is False:
        training["early_stopping"] = None  # off, whatever its other (0.1 default) keys say
    return data
