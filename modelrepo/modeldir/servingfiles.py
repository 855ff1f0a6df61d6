"""The files around a model's artifact and manifest, all written from ``manifest.json``.

``MyModel.py`` (the Seldon user class), ``requirements.txt`` (the framework pins),
``.s2i/environment`` (what the s2i builder runs), ``request.json`` (a sample request) and
``deployment.yaml`` (the SeldonDeployment). ``modelrepo new`` writes them for a new model and
``modelrepo refresh`` rewrites them after the manifest changed; the committed models' copies
come from here too, so there is one source for each.
"""

from __future__ import annotations

import json
import textwrap
from importlib import metadata
from pathlib import Path

from packaging.version import Version

from modelrepo.modeldir.deployment import (
    DEPLOYMENT_FILE,
    DeploymentOptions,
    seldon_deployment,
    to_yaml,
)
from wrappers import wrapper_for
from wrappers.contract import TableSpec, TensorSpec
from wrappers.core.manifest import Manifest

USER_CLASS = "MyModel"
SERVICE_TYPE = "MODEL"

MY_MODEL = '''"""{summary}

Serve it from this directory: `seldon-core-microservice MyModel --service-type MODEL`.
"""

from pathlib import Path

from wrappers import {wrapper}


class MyModel({wrapper}):
    default_model_dir = Path(__file__).resolve().parent
'''


def my_model_py(manifest: Manifest) -> str:
    summary = manifest.description.strip() or f"{manifest.name}, a {manifest.framework} model."
    summary = summary.replace("\\", "/").replace('"""', "'''")
    summary = textwrap.fill(" ".join(summary.split()), width=96)
    return MY_MODEL.format(summary=summary, wrapper=wrapper_for(manifest.framework).__name__)


def requirements_txt(manifest: Manifest) -> str:
    """The framework at the version the artifact was saved with, the packages the manifest
    says the artifact also needs (``options.requires``: XGBoost or LightGBM for their
    scikit-learn estimators), its companions (and pandas, which table inputs are decoded into)
    as installed."""
    wrapper = wrapper_for(manifest.framework)
    companions = list(wrapper.companions)
    if any(isinstance(spec, TableSpec) for spec in manifest.inputs):
        companions.append("pandas")
    pins = [f"{wrapper.distribution}=={Version(manifest.framework_version).public}"]
    pins += [f"{name}=={version}" for name, version in manifest.options.get("requires", {}).items()]
    pins += [f"{name}=={metadata.version(name)}" for name in companions]
    return "\n".join(pins) + "\n"


def s2i_environment(options: DeploymentOptions) -> str:
    """What the image runs, with the deployment's workers and threads so both agree."""
    return (
        f"MODEL_NAME={USER_CLASS}\nSERVICE_TYPE={SERVICE_TYPE}\nPERSISTENCE=0\n"
        f"GUNICORN_WORKERS={options.workers}\nGUNICORN_THREADS={options.threads}\n"
    )


def read_s2i_environment(model_dir: Path) -> dict[str, str]:
    """The variables a model directory's ``.s2i/environment`` sets (what s2i bakes into the
    image)."""
    lines = (Path(model_dir) / ".s2i" / "environment").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def request_json(manifest: Manifest) -> str:
    """A prediction request for the first golden input: one tensor or text as
    ``data.ndarray`` (with the feature names), a table or several inputs as ``jsonData``."""
    if not manifest.golden:
        return ""
    values = manifest.golden[0].input
    (first, *others) = manifest.inputs
    if others or isinstance(first, TableSpec):
        body: dict = {"jsonData": values if others else values[first.name]}
    else:
        data = {"ndarray": values[first.name]}
        if isinstance(first, TensorSpec) and first.names:
            data = {"names": first.names, **data}
        body = {"data": data}
    return json.dumps(body) + "\n"


def render(
    manifest: Manifest, model_dir: Path, options: DeploymentOptions | None = None
) -> dict[str, str]:
    """Each serving file's text, by path relative to the model directory."""
    options = options or DeploymentOptions.from_file(model_dir)
    return {
        "MyModel.py": my_model_py(manifest),
        "requirements.txt": requirements_txt(manifest),
        ".s2i/environment": s2i_environment(options),
        "request.json": request_json(manifest),
        DEPLOYMENT_FILE: to_yaml(seldon_deployment(manifest, model_dir, options)),
    }


def write(
    manifest: Manifest, model_dir: Path, options: DeploymentOptions | None = None
) -> list[Path]:
    """Writes the serving files; without ``options`` the deployment keeps its current choices."""
    written = []
    for relative, text in render(manifest, model_dir, options).items():
        path = Path(model_dir) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
