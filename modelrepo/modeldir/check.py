"""Verifies a model directory without serving it: what a worker checks, reported step by step.

The verification itself is the wrapper's: the manifest's artifact hashes, the wrapper's version
comparison, ``load()`` and its golden replay. This module runs them through the directory's own
``MyModel`` (the class the server runs) and adds what only matters before a build: pins in
``requirements.txt`` and a valid ``deployment.yaml``.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from modelrepo.modeldir.deployment import DEPLOYMENT_FILE, deployment_problems
from modelrepo.modeldir.servingfiles import USER_CLASS
from wrappers import ServedModel, wrapper_for
from wrappers.contract import TensorSpec
from wrappers.core.manifest import Manifest
from wrappers.core.signing import signature_status
from wrappers.errors import ManifestError, ModelLoadError
from wrappers.frameworks.torch.describe import DYNAMIC_BATCH
from wrappers.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str


@dataclass
class Report:
    model_dir: Path
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, status: Status, detail: str) -> None:
        self.findings.append(Finding(check, status, detail))

    @property
    def passed(self) -> bool:
        return all(f.status != "fail" for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status in ("fail", "warn")]


def user_class(model_dir: Path, manifest: Manifest) -> tuple[type[ServedModel], str | None]:
    """The directory's ``MyModel``, else the framework's wrapper and why ``MyModel`` is unusable."""
    path = Path(model_dir) / f"{USER_CLASS}.py"
    fallback = wrapper_for(manifest.framework)
    if not path.is_file():
        return fallback, f"{path.name} is missing; `modelrepo refresh {model_dir}` writes it"
    module_name = f"modelrepo_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report whatever it raises
        del sys.modules[module_name]
        return fallback, f"{path.name} does not import: {type(exc).__name__}: {exc}"
    cls = getattr(module, USER_CLASS, None)
    if not (isinstance(cls, type) and issubclass(cls, ServedModel)):
        return fallback, f"{path.name} defines no class {USER_CLASS} derived from a wrapper"
    return cls, None


def check_model_dir(model_dir: Path) -> Report:
    """Runs every check; a failed step skips the steps that depend on it."""
    model_dir = Path(model_dir)
    report = Report(model_dir)
    try:
        manifest = Manifest.read(model_dir)
    except ManifestError as exc:
        report.add("manifest", "fail", str(exc))
        return report
    report.add(
        "manifest",
        "ok",
        f"{manifest.name} v{manifest.version}, {manifest.framework}, "
        f"{len(manifest.golden)} golden pairs",
    )
    _check_batch(report, manifest)

    mismatches = manifest.artifact_mismatches(model_dir)
    if mismatches:
        report.add("artifacts", "fail", "; ".join(mismatches))
    else:
        files = len(manifest.artifacts) + len(manifest.code)
        report.add("artifacts", "ok", f"{files} file(s), sha256 as recorded")
    report.add("signature", *signature_status(model_dir, Settings.resolve({})))

    cls, problem = user_class(model_dir, manifest)
    if problem:
        report.add(f"{USER_CLASS}.py", "fail", problem)
    else:
        report.add(f"{USER_CLASS}.py", "ok", f"{USER_CLASS}({cls.__mro__[1].__name__})")
    try:
        model = cls(model_dir=model_dir, verify_golden=True)
    except ModelLoadError as exc:
        report.add("wrapper", "fail", str(exc))
        return report

    version_ok = _check_versions(report, model)
    _check_requirements(report, manifest)
    check_deployment(report)

    if mismatches:
        report.add("load", "skip", "not attempted: the wrapper refuses unverified artifacts")
    elif not version_ok and model.strict_version:
        report.add("load", "skip", f"not attempted: {model.distribution} refuses this version")
    else:
        _check_load(report, model, manifest)
    return report


def _check_batch(report: Report, manifest: Manifest) -> None:
    """A fixed batch is served, but every request must have exactly that many rows."""
    fixed = [s for s in manifest.inputs if isinstance(s, TensorSpec) and s.shape[0] != -1]
    if fixed:
        how = f"; to take any batch, export it with {DYNAMIC_BATCH}"
        report.add(
            "batch",
            "warn",
            f"{fixed[0].name} takes a fixed batch of {fixed[0].shape[0]} rows, and a request "
            f"of another size is refused{how if manifest.framework == 'torch' else ''}",
        )


def _check_load(report: Report, model: ServedModel, manifest: Manifest) -> None:
    """Loads the model as a server worker does, which replays the golden pairs."""
    started = time.perf_counter()
    try:
        model.load()
    except ModelLoadError as exc:
        report.add("load", "fail", str(exc))
        return
    report.add("load", "ok", f"loaded in {time.perf_counter() - started:.1f}s")
    if not manifest.golden:
        report.add("golden pairs", "warn", "none recorded: outputs are not verified")
    elif model.ready:
        report.add(
            "golden pairs",
            "ok",
            f"{len(manifest.golden)} replayed within tolerance {manifest.tolerance:g}",
        )
    else:
        report.add("golden pairs", "fail", model.problem)


def _check_versions(report: Report, model: ServedModel) -> bool:
    manifest = model.manifest
    try:
        difference = model.version_difference()
    except ImportError:
        report.add(
            "framework",
            "fail",
            f"{model.distribution} is not installed; install "
            f"{model.distribution}=={Version(manifest.framework_version).public}",
        )
        return False
    if difference is None:
        report.add(
            "framework", "ok", f"{model.distribution} {manifest.framework_version} as recorded"
        )
    else:
        report.add("framework", "fail" if difference.breaking else "warn", difference.message)
    recorded, running = manifest.python_version, platform.python_version()
    if Version(recorded).release[:2] == Version(running).release[:2]:
        report.add("python", "ok", f"{running} (recorded {recorded})")
    else:
        report.add("python", "warn", f"saved with Python {recorded}, running {running}")
    return difference is None or not difference.breaking


def _check_requirements(report: Report, manifest: Manifest) -> None:
    distribution = wrapper_for(manifest.framework).distribution
    recorded = Version(manifest.framework_version).public
    path = report.model_dir / "requirements.txt"
    if not path.is_file():
        report.add("requirements", "warn", "no requirements.txt: an image build installs nothing")
        return
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            report.add("requirements", "fail", f"requirements.txt: {exc}")
            return
        pins[canonicalize_name(requirement.name)] = requirement
    needed = [Requirement(r) for r in manifest.requirements]
    lacking = [str(r) for r in needed if canonicalize_name(r.name) not in pins]
    if lacking:
        report.add("requirements", "fail", f"requirements.txt lacks {lacking}, which it needs")
        return
    pin = pins.get(canonicalize_name(distribution))
    if pin is None:
        report.add("requirements", "warn", f"requirements.txt does not pin {distribution}")
    elif pin.specifier.contains(recorded, prereleases=True):
        report.add("requirements", "ok", f"{pin} allows the recorded {recorded}")
    else:
        report.add(
            "requirements", "fail", f"requirements.txt asks {pin}, the model needs {recorded}"
        )


def check_deployment(report: Report) -> None:
    """The ``deployment.yaml`` beside what ``report`` checks: the CRD and the webhook's rules."""
    path = report.model_dir / DEPLOYMENT_FILE
    if not path.is_file():
        report.add("deployment", "warn", f"no {DEPLOYMENT_FILE}")
        return
    try:
        problems = deployment_problems(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as exc:
        problems = [f"not YAML: {exc}"]
    if problems:
        report.add("deployment", "fail", f"{DEPLOYMENT_FILE}: " + "; ".join(problems))
    else:
        report.add("deployment", "ok", f"{DEPLOYMENT_FILE} is a valid v1 SeldonDeployment")
