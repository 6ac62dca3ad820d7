"""`nncli config show|validate|keys|schema`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nncli.cli.app import SetOpt, _console, _load, config_app


@config_app.command("show")
def config_show(config: Annotated[str, typer.Argument(help="Experiment YAML file, or -.")], set_: SetOpt = []):
    """Print the fully resolved config (every default filled in)."""
    from nncli.config import dump_config

    typer.echo(dump_config(_load(config, set_)), nl=False)


@config_app.command("validate")
def config_validate(config: Annotated[str, typer.Argument(help="Experiment YAML file, or -.")], set_: SetOpt = []):
    """Check a config without training; exit 0 when it is valid."""
    from nncli.config.resources import check_resources

    check_resources(_load(config, set_), "<stdin>" if config == "-" else config)
    _console().print(f"{config}: ok")


@config_app.command("keys")
def config_keys():
    """Print every config key with its default and meaning (Markdown)."""
    from nncli.config.reference import reference

    typer.echo(reference(), nl=False)


@config_app.command("schema")
def config_schema():
    """Print the JSON Schema of experiment files (for editors)."""
    from nncli.config import config_schema as schema

    typer.echo(json.dumps(schema(), indent=2))
