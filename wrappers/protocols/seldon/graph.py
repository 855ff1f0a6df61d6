"""The Seldon hooks of the other kinds of inference-graph node: transformers, output
transformers, routers and combiners, plus the feedback hook a router learns from.

Seldon calls ``<method>_raw`` first with the REST dict or the gRPC message; these answer it
from the contract as ``predict_raw`` does. A router's answer is its child's index as
``data.ndarray [[n]]`` with the route also in ``meta.routing`` under this unit's name, where
Seldon's executor records it; a combiner reads a ``SeldonMessageList``, one message per child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.json_format import MessageToDict

from wrappers.errors import InvalidInput
from wrappers.protocols.seldon.envelope import check_message, check_proto, require_object
from wrappers.protocols.seldon.hooks import SeldonHooks
from wrappers.protocols.seldon.message import read_request

if TYPE_CHECKING:  # seldon_core.proto imports TensorFlow when it is installed
    from seldon_core.proto import prediction_pb2


def unit_name() -> str:
    """This node's name in the graph, as Seldon's microservice reads it (``PREDICTIVE_UNIT_ID``,
    else ``0``): feedback's ``meta.routing`` is keyed by it."""
    from seldon_core.env_utils import get_model_name

    return get_model_name("0")


class GraphHooks(SeldonHooks):
    """``transform_input``, ``transform_output``, ``route`` and ``aggregate`` answered from
    the contract, each only by the kind of node the manifest declares."""

    def transform_input_raw(self, request: Any) -> Any:
        self.require_kind("transformer")
        return self._message_answer(request)

    def transform_output_raw(self, request: Any) -> Any:
        self.require_kind("output_transformer")
        return self._message_answer(request)

    def route_raw(self, request: Any) -> Any:
        """The child this request goes to, as ``[[n]]`` and in ``meta.routing``."""
        self.require_kind("router")
        answer = self._message_answer(request, proto=False)
        (route,) = answer["data"]["ndarray"][0]
        answer["meta"]["routing"] = {unit_name(): int(route)}
        return self._as_proto(answer) if _is_proto(request) else answer

    def aggregate_raw(self, request: Any) -> Any:
        """One answer from the children's (checked against each other), with their tags,
        request paths and metrics merged as Seldon merges them."""
        self.require_kind("combiner")
        messages = _children(request)
        envelopes, metas = [], []
        for i, message in enumerate(messages):
            try:
                if isinstance(message, dict):
                    envelopes.append(check_message(message, self.max_elements))
                    metas.append(message.get("meta") or {})
                else:
                    envelopes.append(check_proto(message, self.max_elements))
                    metas.append(MessageToDict(message.meta))
            except InvalidInput as exc:
                raise InvalidInput(f"child {i}: {exc.message}") from exc
        requests = [read_request(e, self.manifest.inputs) for e in envelopes]
        answer = self._reply(_merged(metas), self.combine(requests), requests[0].kind)
        inherited = [m for meta in metas for m in meta.get("metrics", [])]
        if inherited:
            answer["meta"]["metrics"] = inherited + answer["meta"].get("metrics", [])
        return self._as_proto(answer) if _is_proto(request) else answer

    def send_feedback(
        self,
        features: Any,
        feature_names: Any,
        reward: float,
        truth: Any,
        routing: int | None = None,
    ) -> None:
        """Seldon's feedback hook: a router learns the reward of the child in
        ``response.meta.routing`` under its name. A ``MyModel`` may override it (and call
        ``super().send_feedback(...)`` to keep a router learning)."""
        self.learn(routing, reward)

    def _message_answer(self, request: Any, proto: bool | None = None) -> Any:
        """The answer to one SeldonMessage (a dict, or a proto when one came and ``proto`` is
        not False)."""
        if _is_proto(request):
            envelope = check_proto(request, self.max_elements)
            answer = self._answer(MessageToDict(request.meta), envelope)
            return answer if proto is False else self._as_proto(answer)
        envelope = check_message(request, self.max_elements)
        return self._answer(request.get("meta") or {}, envelope)

    @staticmethod
    def _as_proto(answer: dict) -> prediction_pb2.SeldonMessage:
        from seldon_core.utils import json_to_seldon_message

        return json_to_seldon_message(answer)


def _is_proto(request: Any) -> bool:
    return not isinstance(request, dict | list)


def _children(request: Any) -> list[Any]:
    """The messages of a ``SeldonMessageList``: over REST the JSON list Seldon's executor sends
    (``CombineSeldonMessagesToJson``), or ``{"seldonMessages": [...]}``, as Seldon reads both."""
    if _is_proto(request):
        messages = list(request.seldonMessages)
    elif isinstance(request, list):
        messages = request
    else:
        require_object(request, "the request")
        messages = request.get("seldonMessages")
        if not isinstance(messages, list):
            raise InvalidInput(
                'expected {"seldonMessages": [...]}: a combiner takes one message per child'
            )
    if not messages:
        raise InvalidInput("seldonMessages is empty: a combiner needs its children's outputs")
    return messages


def _merged(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The children's ``meta`` as Seldon's ``aggregate`` merges it: tags and request paths
    joined, the first child's puid kept."""
    tags: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for meta in metas:
        tags.update(meta.get("tags", {}))
        paths.update(meta.get("requestPath", {}))
    merged: dict[str, Any] = {"tags": tags, "requestPath": paths}
    if metas and metas[0].get("puid"):
        merged["puid"] = metas[0]["puid"]
    return merged
