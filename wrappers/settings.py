"""Serving settings in one typed place: Seldon parameters override environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ENV_PREFIX = "MODELREPO_"
#: a list setting given as one string (an environment variable): comma-separated
Names = Annotated[
    list[str],
    BeforeValidator(lambda v: [n for n in v.split(",") if n] if isinstance(v, str) else v),
]


class Settings(BaseModel):
    """What a deployment may tune without touching code.

    Each field is read from the Seldon ``--parameters`` of the same name, else from the
    environment variable ``MODELREPO_<NAME>``, else its default.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_dir: Path | None = None
    method: str | None = Field(
        default=None,
        description="sklearn, xgboost, lightgbm: answer with this method alone (predict_proba, "
        "predict or, for sklearn, decision_function, predict_log_proba, score_samples or "
        "transform) instead of the manifest's outputs",
    )
    max_batch_rows: int = Field(default=10_000, ge=1)
    max_request_bytes: int = Field(
        default=10_000_000, ge=1, description="larger REST bodies are refused with 413"
    )
    verify_golden: bool = True
    fast_trees: bool = Field(default=True, description="sklearn: numpy evaluator for trees")
    allow_unverified: bool = Field(
        default=False,
        description="serve a directory without manifest.json (no hash, version or golden check)",
    )
    microbatch_rows: int = Field(
        default=32,
        ge=1,
        description="micro-batching: most rows one model call gathers from concurrent requests; "
        "1 switches it off",
    )
    microbatch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        description="micro-batching: how long a batch may wait for as many requests as were "
        "in flight at once since the last batch (never when requests come one at a time; "
        "0: never)",
    )
    fast_json: bool = Field(
        default=True,
        description="answer REST ndarray/tensor requests without Seldon's generic conversion",
    )
    allow_pickle: bool = Field(
        default=False,
        description="load an artifact that runs code as it loads (joblib/pickle, torch.load of "
        "a full pickle, a torch.export .pt2); without it only safe formats are served",
    )
    trusted_types: Names = Field(
        default_factory=list,
        description="sklearn: types a skops file may hold beyond the built-in allowlist and "
        "the manifest's trusted_types",
    )
    signature_policy: Literal["require", "warn", "off"] = Field(
        default="warn",
        description="model.sig: require a valid signature, warn (and serve) without one, or off",
    )
    signature_public_key: Path | None = Field(
        default=None,
        description="the signer's PEM public key, mounted from the deployment (never the model "
        "directory)",
    )

    payload_log: str | None = Field(
        default=None,
        description="log sampled predictions: an http(s) URL receives each request and answer "
        "as CloudEvents (the shape of Seldon's request logger), anything else is a file that "
        "gets one JSON line per event; unset: off",
    )
    payload_log_rate: float = Field(
        default=1.0, ge=0, le=1, description="the share of predictions payload_log logs"
    )
    payload_log_queue: int = Field(
        default=1000,
        ge=1,
        description="predictions waiting to be logged at most; beyond it they are dropped and "
        "counted (modelrepo_payload_log_dropped_total)",
    )

    @classmethod
    def resolve(cls, parameters: dict[str, Any]) -> Settings:
        values = _from_env(cls)
        values.update({k: v for k, v in parameters.items() if v is not None})
        return cls.model_validate(values)


class ServerSettings(BaseModel):
    """How the server's processes start, drain and stop: read by ``wrappers.server.launch`` before
    Seldon forks, from the environment variables ``MODELREPO_<NAME>`` (a deployment's env)."""

    model_config = ConfigDict(extra="forbid")

    drain_seconds: float = Field(
        default=10.0,
        ge=0,
        description="after SIGTERM, how long /health/status answers 503 while predictions are "
        "still served (time for the endpoint's removal to reach every node)",
    )
    finish_seconds: float = Field(
        default=30.0,
        gt=0,
        description="after the drain, how long requests in flight may take to finish",
    )
    read_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="a REST request not received whole within this is answered 408 and closed",
    )

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls.model_validate(_from_env(cls))

    @property
    def grace_seconds(self) -> float:
        """What a stop takes at most: the drain, then the slowest request in flight."""
        return self.drain_seconds + self.finish_seconds


_serving: Settings | None = None


def serve_with(settings: Settings) -> Settings:
    """Records the settings of the model this process serves, for the parts of the server that
    never see the model object (the HTTP worker's body limit); a forked worker inherits them."""
    global _serving
    _serving = settings
    return settings


def serving() -> Settings:
    """The served model's settings (its Seldon parameters over the environment); before a model
    is made, the environment's alone."""
    return _serving if _serving is not None else Settings.resolve({})


def _from_env(model: type[BaseModel]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in model.model_fields:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = env
    return values
