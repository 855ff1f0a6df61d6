"""Built-in combiners (mean, weighted mean, majority vote) and routers (A/B split,
epsilon-greedy and Thompson-sampling bandits), each configured by the JSON file it is served
from, so its manifest records that file's hash like any other artifact."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from wrappers.core.combine import CombinerConfig, combine
from wrappers.core.model import Outputs, ServedModel
from wrappers.core.routing import Policy, RouterConfig
from wrappers.errors import ManifestError, ModelLoadError

#: the configuration each kind a built-in can be is read as
CONFIGS: dict[str, type[CombinerConfig] | type[RouterConfig]] = {
    "combiner": CombinerConfig,
    "router": RouterConfig,
}


class BuiltinRuntime(ServedModel):
    """Serves ``combiner.json`` or ``router.json`` as the manifest's ``kind`` says."""

    framework = "builtin"
    distribution = "numpy"
    module = "numpy"

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        kind = self.manifest.kind
        if kind not in CONFIGS:
            raise ManifestError(f"a built-in is a combiner or a router, not a {kind}")
        if len(self.manifest.inputs) != 1 or len(self.manifest.outputs) != 1:
            raise ManifestError("a built-in takes one input and gives one output")
        self.config: CombinerConfig | RouterConfig | None = None
        self.policy: Policy | None = None

    def _load(self) -> None:
        path = self.source / self.manifest.artifacts[0].path
        try:
            config = CONFIGS[self.manifest.kind].model_validate_json(path.read_bytes())
        except ValidationError as exc:
            kind = self.manifest.kind
            raise ModelLoadError(f"{path} is not a valid built-in {kind}: {exc}") from exc
        declared = self.manifest.options.get("children")
        if declared is not None and declared != config.children:
            raise ModelLoadError(f"{path} has {config.children} children, the manifest {declared}")
        self.config = config
        # created in each worker, after the fork: every worker keeps its own state
        self.policy = Policy(config) if isinstance(config, RouterConfig) else None

    def _predict(self, inputs: dict[str, Any]) -> Outputs:
        name = self.outputs[0].name
        if self.policy is not None:
            return {name: np.array([[self.policy.choose()]], dtype=np.int64)}
        assert isinstance(self.config, CombinerConfig)
        (value,) = inputs.values()
        return {name: combine(self.config, value)}

    def _learn(self, child: int, reward: float) -> None:
        assert self.policy is not None
        self.policy.learn(child, reward)
