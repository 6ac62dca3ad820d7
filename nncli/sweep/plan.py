"""From a config and a command line to a sweep's definition, every trial checked before any trains.

The search space comes from three places, later ones winning key by key: the config's
``sweep:`` section, a sweep file (``--sweep-file``: the same keys, at the top level or under
``sweep:``), and the command line (``key=a,b,c``, ``key=loguniform(a,b)``, ``--grid
key=[...]``). Plain ``key=value`` items are fixed overrides for every trial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from nncli import modelfiles, runs
from nncli.config import Config, config_to_dict, load_config, parse_yaml, split_override, validate
from nncli.config.safeyaml import dotted, load_yaml
from nncli.config.sweep import SweepConfig
from nncli.errors import ConfigError, NncliError, RunError, UsageError
from nncli.sweep import manifest, space as spaces, strategies
from nncli.sweep.score import Metric

_SETTINGS = ("strategy", "trials", "seed", "metric", "eta", "min_epochs")


@dataclass
class Plan:
    name: str  # the sweep directory's name under runs/
    key: str  # hash of what defines the sweep: the same command finds the same sweep
    base_text: str
    fixed: list[str]  # overrides applied to every trial
    space: dict  # key -> Dimension
    strategy: dict  # name, trials, seed, eta, min_epochs, rungs
    metric: Metric
    base: Config
    trials: list[dict] = field(default_factory=list)  # manifest entries created up front
    source: str = "base.yaml"  # where the base config came from, for messages
    command: str = ""
    created: str = ""
    best: str | None = None

    def to_dict(self) -> dict:
        """The manifest (see manifest.py)."""
        return {"format": manifest.FORMAT, "name": self.name, "key": self.key, "command": self.command,
                "created": self.created, "base": manifest.BASE_FILE, "base_name": self.base.name,
                "overrides": self.fixed, "space": {k: d.text() for k, d in self.space.items()},
                "strategy": self.strategy, "metric": self.metric.name, "best": self.best,
                "trials": self.trials}


def from_manifest(data: dict, base_text: str, source: str) -> Plan:
    """A sweep's plan back from its manifest and base config (``nncli sweep --resume``)."""
    try:
        space = {k: spaces.parse(v, f"{source}: space {k}") for k, v in data["space"].items()}
        base = load_config(source, data["overrides"], text=base_text)
        plan = Plan(name=data["name"], key=data["key"], base_text=base_text, fixed=list(data["overrides"]),
                    space=space, strategy=dict(data["strategy"]), metric=Metric(data.get("metric")), base=base,
                    trials=list(data["trials"]), source=source, command=data.get("command", ""),
                    created=data.get("created", ""), best=data.get("best"))
    except (KeyError, TypeError, AttributeError) as e:
        raise RunError(f"{source}: the sweep's manifest is incomplete ({e})") from None
    return plan


@dataclass
class Options:
    """What the command line says about the sweep (None: not given)."""

    items: list[str] = field(default_factory=list)  # key=value, key=a,b,c, key=uniform(a,b)
    grid: list[str] = field(default_factory=list)  # key=[v1, v2]
    sweep_file: str | None = None
    strategy: str | None = None
    trials: int | None = None
    seed: int | None = None
    metric: str | None = None
    eta: int | None = None
    min_epochs: int | None = None
    name: str | None = None


def make_plan(config: str, text: str, opts: Options, runs_dir) -> Plan:
    """The sweep the command describes, with every up-front trial validated and pre-flighted."""
    fixed, dims = [], {}
    for item in opts.items:
        keys, value = split_override(item)
        dim = spaces.parse(value, f"{item!r}")
        if dim is None:
            fixed.append(item)
        else:
            dims[dotted(keys)] = dim
    for item in opts.grid:
        keys, value = split_override(item)
        values, _ = load_yaml(value, f"--grid {item!r}", empty=None)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--grid {item!r}: expected a non-empty list of values, e.g. "
                              f"{dotted(keys)}=[0.1, 0.01], got {json.dumps(values)}")
        dims[dotted(keys)] = spaces.Values(tuple(values))

    settings, params = _sweep_section(_config_section(config, text), opts.sweep_file)
    for key in _SETTINGS:
        if getattr(opts, key) is not None:
            settings[key] = getattr(opts, key)
    space = {}
    for key, value in params.items():
        dim = spaces.from_yaml(value, f"sweep.params.{key}")
        if dim is None:
            fixed.append(spaces.override(key, value))
        else:
            space[key] = dim
    for key, dim in dims.items():
        space.pop(key, None)
        space[key] = dim
    fixed = [f for f in fixed if dotted(split_override(f)[0]) not in space]
    if not space:
        raise UsageError("sweep: nothing to sweep; give values to try, e.g. optimizer.lr=0.1,0.01 or "
                         "--grid 'model.hidden=[[64], [128]]', or a sweep section with params")
    for key in space:
        if key == "name" or key.startswith("sweep."):
            raise UsageError(f"sweep: {key} cannot be swept (the sweep names its trials itself)")
    # the base is the config with each swept key at its first value: a swept key may be what
    # completes it (data.path with data.dataset: null)
    first = [spaces.override(k, d.corners()[0]) for k, d in space.items()]
    base = load_config(config, [*fixed, *first], text=text)
    strategy = _strategy(settings, space, base)
    metric = Metric(settings.get("metric"))
    plan = Plan(name="", key="", base_text=text, fixed=fixed, space=space, strategy=strategy,
                metric=metric, base=base, source=config)
    plan.key = manifest.digest({
        "base": config_to_dict(base.model_copy(update={"sweep": None})),
        "space": {k: d.text() for k, d in space.items()},
        "strategy": {k: strategy[k] for k in ("name", "trials", "seed", "eta", "min_epochs")},
        "metric": metric.name})
    plan.name = opts.name or f"{base.name[:40]}-sweep-{plan.key[:8]}"
    runs.check_name(plan.name)

    if strategy["name"] == "grid":
        params_list = strategies.grid(space)
    elif strategy["name"] == "tpe":
        params_list = []
        strategy["width"] = max(3, len(str(strategy["trials"] - 1)))
        check_corners(plan, runs_dir)
    else:
        n = strategy["trials"]
        params_list = strategies.grid(space) if n is None else strategies.sample(space, n, strategy["seed"])
        if strategy["name"] == "halving":
            strategy["trials"] = len(params_list)
            strategy["rungs"] = [r.__dict__ for r in strategies.rungs(
                len(params_list), base.training.epochs, strategy["eta"], strategy["min_epochs"])]
    width = max(3, len(str(max(len(params_list), strategy.get("trials") or 0) - 1)))
    strategy["width"] = width
    plan.trials = [new_trial(plan, i, params) for i, params in enumerate(params_list)]
    checked: set[str] = set()
    for t in plan.trials:
        check_trial(plan, t, runs_dir, checked)
    return plan


def _config_section(config: str, text: str) -> SweepConfig | None:
    """The config's own sweep section, checked on its own (the rest may need swept values)."""
    filename = "<stdin>" if config == "-" else config
    data, lines = parse_yaml(text, filename)
    if data.get("sweep") is None:
        return None
    return validate({"sweep": data["sweep"]}, filename, {k: v for k, v in lines.items() if k[:1] == ("sweep",)}).sweep


def _sweep_section(section: SweepConfig | None, sweep_file: str | None) -> tuple[dict, dict]:
    """(settings, params): the config's sweep section, then a sweep file's keys over it."""
    settings = {k: getattr(section, k) for k in _SETTINGS} if section else {}
    params = dict(section.params) if section else {}
    if sweep_file is not None:
        from nncli.config import read_config_text

        text = read_config_text(sweep_file)
        data, lines = parse_yaml(text, sweep_file)
        if "sweep" not in data:
            data, lines = {"sweep": data}, {("sweep",) + k: v for k, v in lines.items()}
        if set(data) != {"sweep"}:
            raise ConfigError(f"{sweep_file}: expected the keys of a sweep section ({', '.join(SweepConfig.model_fields)}), "
                              f"at the top level or under sweep:, got {', '.join(map(str, data))}")
        extra = validate(data, sweep_file, lines).sweep
        settings.update({k: getattr(extra, k) for k in _SETTINGS if k in extra.model_fields_set})
        params.update(extra.params)
    return settings, params


def _strategy(settings: dict, space: dict, base: Config) -> dict:
    trials = settings.get("trials")
    name = settings.get("strategy") or ("random" if trials is not None else "grid")
    out = {"name": name, "trials": trials, "seed": settings.get("seed") or 0,
           "eta": settings.get("eta") or 3, "min_epochs": settings.get("min_epochs")}
    if name == "grid" and trials is not None:
        raise UsageError("--trials: a grid runs every combination; use --strategy random, tpe or halving "
                         "to sample that many")
    if name in ("random", "tpe") and trials is None:
        raise UsageError(f"--strategy {name}: give the number of trials to sample with --trials N")
    if name == "halving" and trials is None and strategies.grid_size(space) is None:
        raise UsageError("--strategy halving: give the number of trials to sample with --trials N")
    if name != "halving" and (settings.get("eta") not in (None, 3) or settings.get("min_epochs") is not None):
        raise UsageError("--eta and --min-epochs: only the halving strategy uses them (--strategy halving)")
    if name == "halving" and "training.epochs" in space:
        raise UsageError("--strategy halving: training.epochs cannot be swept; halving decides how long each "
                         "trial trains, up to training.epochs")
    return out


def new_trial(plan: Plan, index: int, params: dict) -> dict:
    short = spaces.short_keys(list(plan.space))
    tid = f"t{index:0{plan.strategy['width']}d}"
    slug = spaces.slug(params, short)
    return {"id": tid, "label": spaces.label(params, short), "params": params,
            "overrides": [spaces.override(k, v) for k, v in params.items()],
            "config_hash": None, "status": "pending", "reason": None,
            "run_dir": f"{tid}-{slug}" if slug else tid, "score": None, "epochs": None,
            "epochs_run": 0, "rung": None}


def trial_config(plan: Plan, trial: dict, epochs: int | None = None) -> Config:
    """The trial's config: the base, the fixed overrides, the trial's values and its name (and
    the epochs of its first rung, under halving)."""
    overrides = [*plan.fixed, *trial["overrides"], f"name={plan.base.name[:52]}-{trial['id']}"]
    if epochs is not None:
        overrides.append(f"training.epochs={epochs}")
    cfg = load_config(plan.source, overrides, text=plan.base_text)
    return cfg.model_copy(update={"sweep": None})


def check_trial(plan: Plan, trial: dict, runs_dir, checked: set) -> Config:
    """Validate a trial's config and pre-flight its inputs; errors name the trial."""
    try:
        cfg = trial_config(plan, trial)
        check_inputs(plan, cfg, runs_dir, checked)
    except NncliError as e:
        raise type(e)(f"trial {trial['id']} ({trial['label']}): {e}") from None
    trial["config_hash"] = manifest.digest(config_to_dict(cfg))
    trial["epochs"] = plan.strategy["rungs"][0]["epochs"] if plan.strategy["name"] == "halving" \
        else cfg.training.epochs
    return cfg


def check_corners(plan: Plan, runs_dir) -> None:
    """TPE picks trials as it goes; check the ends of every range and every value up front."""
    first = {k: d.corners()[0] for k, d in plan.space.items()}
    seen: set = set()
    checked: set[str] = set()
    for key, dim in plan.space.items():
        for value in dim.corners():
            params = {**first, key: value}
            token = json.dumps(params, sort_keys=True, default=str)
            if token in seen:
                continue
            seen.add(token)
            probe = new_trial(plan, 0, params)
            probe["id"] = "check"
            check_trial(plan, probe, runs_dir, checked)


def check_inputs(plan: Plan, cfg: Config, runs_dir, checked: set) -> None:
    """What the schema cannot see: the strategy's needs, and the pre-flight checks of `nncli
    train` (preflight.check: dataset params, loss against the task, the data file, the init_from
    run; and the memory estimate)."""
    if plan.metric.needs_validation and cfg.data.validation == 0:
        raise ConfigError(f"data.validation: the sweep ranks trials by {plan.metric.label}, which needs a "
                          "validation split; set data.validation > 0 or rank by --metric loss")
    if plan.strategy["name"] == "halving":
        from nncli.nn import SCHEDULES

        name = cfg.optimizer.schedule.name
        if SCHEDULES[name].uses_epochs:
            raise UsageError(f"--strategy halving continues trials by raising training.epochs, and the {name} "
                             "schedule's rates depend on the epoch count, so a continued trial would differ "
                             "from a full run; use another schedule or --strategy random")
    from nncli.preflight import check
    from nncli.config.resources import check_resources

    check(cfg, runs_dir)  # what `nncli train` checks before it writes: params, task, files, runs
    check_resources(cfg)
    token = json.dumps([cfg.data.path, cfg.model.init_from])
    if token in checked:
        return
    checked.add(token)
    if cfg.data.path is not None:
        try:
            with open(cfg.data.path, "rb") as f:
                f.read(1)
        except OSError as e:
            raise ConfigError(f"data.path: {cfg.data.path}: cannot read it ({e.strerror or e})") from None
    if cfg.model.init_from is not None:
        try:
            modelfiles.load_model_arrays(runs.resolve_run(cfg.model.init_from, runs_dir))
        except NncliError as e:
            raise ConfigError(f"model.init_from: {e}") from None
