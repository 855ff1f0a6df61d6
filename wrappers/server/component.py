"""The Seldon user class a model directory is served as: its hooks, plus what the server adds.

Seldon's microservice registers ``model_error_handler`` on its REST app; through it the server
adds the body limit, JSON errors and the V2 endpoints to whichever way the process started.
Readiness also fails while the server drains.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flask import Blueprint

from wrappers.protocols.seldon.graph import GraphHooks
from wrappers.server import drain
from wrappers.server.patches import apply_under_seldon
from wrappers.server.rest import error_blueprint
from wrappers.server.v2_rest import v2_blueprint


class SeldonComponent(GraphHooks):
    """A served model as Seldon Core 1.x runs it, with this server's REST additions."""

    def __init__(self, **parameters: Any) -> None:
        # plain ``seldon-core-microservice`` builds its servers after constructing this object:
        # the changes the launcher makes to seldon_core are made now if it did not run
        apply_under_seldon()
        super().__init__(**parameters)

    @cached_property
    def model_error_handler(self) -> Blueprint:
        """Seldon registers this blueprint on its REST app: body limit, JSON and HTTP errors,
        and the V2 protocol's endpoints under /v2."""
        blueprint = error_blueprint(
            self.manifest.name, self.settings.max_request_bytes, self.manifest.kind
        )
        blueprint.register_blueprint(v2_blueprint(self))
        return blueprint

    def unready_reason(self) -> str | None:
        """Why readiness probes should fail now: draining, or the model's own reason."""
        if drain.draining():
            return f"{self.manifest.name} is draining: the server is stopping"
        return super().unready_reason()
