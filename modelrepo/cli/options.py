"""Arguments and options shared by several commands, checked before a command runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from modelrepo.cli.output import stderr
from modelrepo.modeldir.deployment import DeploymentOptions, UnreadableDeployment
from wrappers.core.manifest import MANIFEST_FILE
from wrappers.frameworks.sklearn.describe import METHODS


def names_option(_: click.Context, __: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise click.BadParameter("expected comma-separated names such as a,b,c")
    return names


def methods_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    methods = names_option(ctx, param, value)
    unknown = [m for m in methods or [] if m not in METHODS]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not one of {', '.join(METHODS)}")
    return methods


def ranges_option(
    _: click.Context, __: click.Parameter, values: tuple[str, ...]
) -> dict[str, tuple[int, int]]:
    """``[INPUT=]MIN:MAX``, repeated: inclusive integer ranges by input name (``""``: the only)."""
    ranges = {}
    for value in values:
        name, _, bounds = value.rpartition("=")
        low, colon, high = bounds.partition(":")
        try:
            minimum, maximum = int(low), int(high)
        except ValueError:
            minimum = maximum = None
        if not colon or minimum is None or maximum is None or minimum > maximum:
            raise click.BadParameter(f"{value!r}: expected [INPUT=]MIN:MAX such as ids=0:9999")
        ranges[name.strip()] = (minimum, maximum)
    return ranges


def weights_option(_: click.Context, __: click.Parameter, value: str | None) -> list[float] | None:
    """``0.7,0.3`` as numbers."""
    if value is None:
        return None
    try:
        return [float(w) for w in value.split(",")]
    except ValueError as exc:
        raise click.BadParameter(f"expected numbers separated by commas: {exc}") from exc


def json_object_option(_: click.Context, __: click.Parameter, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter('expected a JSON object such as {"hidden": 16}')
    return parsed


def model_dir_argument(**kwargs: Any) -> Any:
    return click.argument(
        "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), **kwargs
    )


def model_dirs_argument() -> Any:
    return click.argument(
        "model_dirs",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
    )


def port_option(server: str, default: int) -> Any:
    """``--<server>-port``, read like Seldon from ``PREDICTIVE_UNIT_<SERVER>_SERVICE_PORT``."""
    return click.option(
        f"--{server}-port",
        type=click.IntRange(1, 65535),
        envvar=f"PREDICTIVE_UNIT_{server.upper()}_SERVICE_PORT",
        default=default,
        show_default=True,
        show_envvar=True,
    )


def require_manifest(model_dir: Path) -> None:
    if not (model_dir / MANIFEST_FILE).is_file():
        raise click.BadParameter(
            f"{model_dir} holds no {MANIFEST_FILE}; is it a model directory?",
            param_hint="MODEL_DIR",
        )


def deployment_options(model_dir: Path) -> DeploymentOptions:
    """The settings of the directory's deployment.yaml; the defaults when it is unreadable."""
    try:
        return DeploymentOptions.from_file(model_dir)
    except UnreadableDeployment as exc:
        stderr().print(Text(f"warning: {exc}; using the default deployment settings"))
        return DeploymentOptions()
