"""Rollouts: more than one predictor in a SeldonDeployment, autoscaling and request logging.

A canary is a second predictor taking ``traffic`` percent of the requests while the current
one (``default``) keeps the rest; an A/B split is the same with two peers, ``a`` and ``b``; a
shadow (``shadow``) is sent a copy of every request and its answers are dropped. Seldon's
gateway (Istio or Ambassador) splits the traffic. Each second version is a model directory, a
graph directory or, for a model directory, another image of the same model. The autoscaler
(``hpaSpec`` on every component spec, ``metricsv2`` as the v1.18.2 operator reads it) owns the
replica count, which starts at its minimum. The logger on each predictor's root node sends
every request, answer or both to a URL, as Seldon's executor does.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelrepo.modeldir.deployment import DeploymentOptions, model_predictor
from modelrepo.modeldir.graph import Graph, is_graph_dir
from modelrepo.modeldir.graph_deployment import graph_predictor
from wrappers.core.manifest import MANIFEST_FILE, Manifest

LOGGER_MODES = ("all", "request", "response")
#: the names a rollout gives its predictors besides ``default``
CANARY, SHADOW, AB = "canary", "shadow", ("a", "b")
#: an image named with its tag or digest, the last part of a reference
TAGGED_IMAGE = re.compile(r"[^\s/:@]+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


class RolloutError(ValueError):
    """A rollout that cannot be written: a second version that is neither a directory nor an
    image, or autoscaling bounds the wrong way round."""


@dataclass(frozen=True)
class Hpa:
    """``--hpa MIN,MAX,CPU%``: between MIN and MAX replicas, aiming at CPU% of the request."""

    min_replicas: int
    max_replicas: int
    cpu_percent: int

    @classmethod
    def parse(cls, text: str) -> Hpa:
        try:
            low, high, cpu = (int(part.strip().rstrip("%")) for part in text.split(","))
        except ValueError as exc:
            raise RolloutError(f"{text!r} is not MIN,MAX,CPU% such as 2,10,70") from exc
        if not 1 <= low <= high:
            raise RolloutError(f"{text!r}: replicas need 1 <= MIN <= MAX")
        if not 1 <= cpu <= 100:
            raise RolloutError(f"{text!r}: CPU% must be between 1 and 100")
        return cls(low, high, cpu)

    def spec(self) -> dict[str, Any]:
        target = {"type": "Utilization", "averageUtilization": self.cpu_percent}
        return {
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "metricsv2": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        }


@dataclass(frozen=True)
class Logger:
    """``graph.logger``: where Seldon's executor posts the payloads, and which ones."""

    url: str
    mode: str = "all"

    def spec(self) -> dict[str, str]:
        return {"url": self.url, "mode": self.mode}


@dataclass(frozen=True)
class Rollout:
    """What a deployment adds to its one predictor; each second version is a predictor."""

    canary: dict[str, Any] | None = None
    ab: dict[str, Any] | None = None
    shadow: dict[str, Any] | None = None
    traffic: int | None = None
    hpa: Hpa | None = None
    logger: Logger | None = None


def predictor_of(
    source: str, name: str, options: DeploymentOptions, main_dir: Path
) -> dict[str, Any]:
    """The predictor ``name`` for a model directory, a graph directory or an image; an image
    replaces the image of ``main_dir``'s model."""
    path = Path(source)
    if is_graph_dir(path):
        return graph_predictor(Graph.read(path), options, name)
    if (path / MANIFEST_FILE).is_file():
        return model_predictor(
            Manifest.read(path), path, dataclasses.replace(options, image=None), name
        )
    if path.exists():
        raise RolloutError(f"{source} is neither a model directory nor a graph directory")
    if is_graph_dir(main_dir):
        raise RolloutError(f"{source}: a graph's second version is a model or graph directory")
    if not TAGGED_IMAGE.search(source):
        raise RolloutError(f"{source} is no directory, nor an image with a tag (NAME:TAG)")
    return model_predictor(Manifest.read(main_dir), main_dir, options, name, image=source)


def rolled_out(main: dict[str, Any], rollout: Rollout) -> list[dict[str, Any]]:
    """The predictors: ``main`` and the second version splitting the traffic, then the shadow;
    each autoscaled and logged as ``rollout`` says."""
    predictors = [main]
    second = rollout.canary or rollout.ab
    if second is not None:
        share = rollout.traffic if rollout.traffic is not None else 50
        if rollout.ab is not None:
            main["name"], second["name"] = AB
        main["traffic"], second["traffic"] = 100 - share, share
        predictors.append(second)
    if rollout.shadow is not None:
        main.setdefault("traffic", 100)
        predictors.append({**rollout.shadow, "shadow": True})
    for predictor in predictors:
        if rollout.hpa is not None:
            predictor["replicas"] = rollout.hpa.min_replicas
            for component in predictor["componentSpecs"]:
                component["hpaSpec"] = rollout.hpa.spec()
        if rollout.logger is not None:
            predictor["graph"]["logger"] = rollout.logger.spec()
    return predictors
