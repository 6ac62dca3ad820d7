"""`nncli config show|validate|keys|schema`."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import RunsDirOpt, SetOpt, _load, config_app, examples
from nncli.errors import EXIT_USAGE


@config_app.command("show", epilog=examples(
        "nncli config show configs/digits.yaml --set optimizer.lr=0.01",
        "nncli config show                      # every default"))
def config_show(
    config: Annotated[Optional[str], typer.Argument(
        metavar="CONFIG", help="Experiment YAML file, or -; without one, the defaults.")] = None,
    set_: SetOpt = [],
):
    """Print the fully resolved config (every default filled in)."""
    from nncli.config import dump_config, load_config

    cfg = _load(config, set_) if config is not None else load_config("-", set_, text="{}\n")
    typer.echo(dump_config(cfg), nl=False)


@config_app.command("validate", epilog=examples(
        "nncli config validate configs/*.yaml",
        "nncli config validate my.yaml --set model.init_from=base --runs-dir ~/runs"))
def config_validate(
    configs: Annotated[list[str], typer.Argument(
        metavar="CONFIG...", help="Experiment YAML files, or - for stdin.")],
    set_: SetOpt = [],
    runs_dir: RunsDirOpt = Path("runs"),
):
    """Check configs without training: the schema, data.params against the dataset's
    function, that data.path exists and that model.init_from is a finished run. One line per
    file: "FILE: ok" on stdout, or the file's problems on stderr; exit 0 when all are valid, 2
    when any is not."""
    from nncli.preflight import check
    from nncli.config.resources import check_resources
    from nncli.errors import ConfigError
    from nncli.paths import shown

    failed = 0
    for config in configs:
        try:
            cfg = _load(config, set_)
            check(cfg, runs_dir)
            check_resources(cfg, "<stdin>" if config == "-" else config)
        except ConfigError as e:
            failed += 1
            name = shown("<stdin>" if config == "-" else config)
            lines = str(e).splitlines()
            head = lines[0] if lines[0].startswith(name) else f"{name}: {lines[0]}"
            typer.echo("\n".join([f"error: {head}", *(f"  {line}" for line in lines[1:])]), err=True)
        else:
            typer.echo(f"{shown('<stdin>' if config == '-' else config)}: ok")
    if failed:
        raise typer.Exit(EXIT_USAGE)


@config_app.command("keys", epilog=examples("nncli config keys > docs/config.md"))
def config_keys():
    """Print every config key with its default and meaning (Markdown)."""
    from nncli.config.reference import reference

    typer.echo(reference(), nl=False)


@config_app.command("schema", epilog=examples("nncli config schema > nncli.schema.json"))
def config_schema():
    """Print the JSON Schema of experiment files (for editors)."""
    from nncli.config import config_schema as schema

    typer.echo(json.dumps(schema(), indent=2))
