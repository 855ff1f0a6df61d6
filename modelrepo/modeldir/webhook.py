"""The rules of Seldon Core 1.18.2's validating admission webhook, with its own messages.

The operator's webhook (``operator/apis/machinelearning.seldon.io/v1/seldondeployment_webhook.go``
at tag v1.18.2, ``ValidateSeldonDeployment``) refuses a SeldonDeployment that the CRD's schema
accepts: traffic that does not add up to 100, more than one shadow, a shadow alone, repeated
predictor names, two endpoint types, a graph node without its container, a logger without a
mode, and so on. Checking them here finds at ``modelrepo deploy`` or ``modelrepo check`` what
would otherwise be found at ``kubectl apply``. The rules run on the resource as written, as the
webhook sees it (the operator's defaults are applied later, by its controller). Each error reads
as Kubernetes' ``field.Error`` prints it. One rule reads the cluster: a prepackaged server
without an image must be in the operator's ``predictor_servers`` ConfigMap, here the one the
v1.18.2 Helm chart installs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: the webhook names the group so (sic) in every refusal
GROUP_KIND = "SeldonDeployment.machinelearing.seldon.io"
PROTOCOLS = ("seldon", "tensorflow", "kfserving", "v2")
TRANSPORTS = ("rest", "grpc")
SERVER_TYPES = ("rpc", "kafka")
KAFKA_ENV = ("KAFKA_BROKER", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC")
NO_ENGINE, SVC_NAME = "seldon.io/no-engine", "seldon.io/svc-name"
#: implementations that run in the user's container, not a prepackaged server
NOT_PREPACKED = ("SIMPLE_MODEL", "SIMPLE_ROUTER", "RANDOM_ABTEST", "AVERAGE_COMBINER")
UNKNOWN_IMPLEMENTATION = "UNKNOWN_IMPLEMENTATION"
#: the prepackaged servers of the Helm chart's ``predictor_servers``
PREPACKED = ("MLFLOW_SERVER", "SKLEARN_SERVER", "TENSORFLOW_SERVER", "XGBOOST_SERVER",
             "TRITON_SERVER", "HUGGINGFACE_SERVER", "TEMPO_SERVER")  # fmt: skip
NO_TENSORFLOW = ("SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER", "HUGGINGFACE_SERVER")
ENDPOINT_TRANSPORT = {"REST": "rest", "GRPC": "grpc"}


@dataclass(frozen=True)
class FieldError:
    """One ``field.Invalid``: where, the value found, and the webhook's words."""

    field: str
    value: Any
    detail: str

    def __str__(self) -> str:
        shown = (
            json.dumps(self.value, ensure_ascii=False)
            if isinstance(self.value, str)
            else self.value
        )
        return f"{self.field}: Invalid value: {shown}: {self.detail}"


def refusal(resource: dict[str, Any]) -> str | None:
    """The webhook's answer to ``resource``, as ``kubectl apply`` would print it; None if
    it admits it."""
    errors = list(dict.fromkeys(str(e) for e in field_errors(resource)))
    if not errors:
        return None
    listed = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    name = json.dumps(resource.get("spec", {}).get("name", ""))
    return f"{GROUP_KIND} {name} is invalid: {listed}"


def field_errors(resource: dict[str, Any]) -> list[FieldError]:
    """Every rule of ``ValidateSeldonDeployment``, in its order."""
    spec = resource.get("spec") or {}
    predictors = spec.get("predictors") or []
    errors = [
        *_enum_errors(spec),
        *_kafka_errors(spec, predictors),
        *_shadow_alone_errors(predictors),
        *_service_name_errors(predictors),
    ]
    if not predictors:
        errors.append(FieldError("spec", spec.get("transport", ""), "Graph contains no predictors"))
    seen: set[str] = set()
    for i, predictor in enumerate(predictors):
        where, name = f"spec.predictors[{i}]", predictor.get("name", "")
        graph = predictor.get("graph") or {}
        if NO_ENGINE in (predictor.get("annotations") or {}) and len(list(_walk(graph))) > 1:
            errors.append(
                FieldError(
                    where, name, "Running without engine only valid for single element graphs"
                )
            )
        if name in seen:
            errors.append(FieldError(where, name, "Duplicate predictor name"))
        seen.add(name)
        errors += _unit_errors(spec, predictor, graph, f"{where}.graph")
    return [*errors, *_transport_errors(spec, predictors), *_traffic_errors(predictors)]


def _enum_errors(spec: dict[str, Any]) -> Iterator[FieldError]:
    for key, allowed, detail in (
        ("protocol", PROTOCOLS, "Invalid protocol"),
        ("transport", TRANSPORTS, "Invalid transport"),
        ("serverType", SERVER_TYPES, "Invalid serverType"),
    ):
        if spec.get(key, "") not in ("", *allowed):
            yield FieldError("spec", spec[key], detail)


def _kafka_errors(spec: dict[str, Any], predictors: list[dict[str, Any]]) -> Iterator[FieldError]:
    if spec.get("serverType") != "kafka":
        return
    for i, predictor in enumerate(predictors):
        env = ((predictor.get("svcOrchSpec") or {}).get("env")) or []
        if sum(e.get("name") in KAFKA_ENV for e in env) < len(KAFKA_ENV):
            yield FieldError(
                f"spec.predictors[{i}]",
                predictor.get("name", ""),
                "For kafka please supply svcOrchSpec envs KAFKA_BROKER, KAFKA_INPUT_TOPIC, "
                "KAFKA_OUTPUT_TOPIC",
            )


def _shadow_alone_errors(predictors: list[dict[str, Any]]) -> Iterator[FieldError]:
    if len(predictors) == 1 and predictors[0].get("shadow"):
        yield FieldError(
            "spec.predictors[0]",
            predictors[0].get("name", ""),
            "Shadow can not exist as only predictor",
        )


def _service_name_errors(predictors: list[dict[str, Any]]) -> Iterator[FieldError]:
    names: set[str] = set()
    for i, predictor in enumerate(predictors):
        annotations = predictor.get("annotations") or {}
        if SVC_NAME not in annotations:
            continue
        if annotations[SVC_NAME] in names:
            yield FieldError(
                f"spec.predictors[{i}]",
                predictor.get("name", ""),
                f"Found duplicate service name in {SVC_NAME} with value {annotations[SVC_NAME]}",
            )
        names.add(annotations[SVC_NAME])


def _unit_errors(
    spec: dict[str, Any], predictor: dict[str, Any], unit: dict[str, Any], where: str
) -> list[FieldError]:
    """``checkPredictiveUnits``: a user node has its container; a prepackaged one its model."""
    name, implementation = unit.get("name", ""), unit.get("implementation")
    errors = []
    if implementation in (None, UNKNOWN_IMPLEMENTATION):
        if _container(predictor, name) is None:
            errors.append(FieldError(where, name, "Can't find container for Predictive Unit"))
        if unit.get("type") == "UNKNOWN_TYPE" and not unit.get("methods"):
            errors.append(
                FieldError(
                    where,
                    name,
                    "Predictive Unit has no implementation methods defined. Change to a known "
                    "type or add what methods it defines",
                )
            )
    elif implementation and implementation not in NOT_PREPACKED:
        errors += _prepacked_errors(spec, predictor, unit, where)
    logger = unit.get("logger")
    if logger is not None and not logger.get("mode"):
        errors.append(FieldError(where, logger.get("mode", ""), "No logger mode specified"))
    for i, child in enumerate(unit.get("children") or []):
        errors += _unit_errors(spec, predictor, child, f"{where}[{i}]")
    return errors


def _prepacked_errors(
    spec: dict[str, Any], predictor: dict[str, Any], unit: dict[str, Any], where: str
) -> list[FieldError]:
    name, implementation = unit.get("name", ""), unit["implementation"]
    errors = []
    if not unit.get("modelUri") and implementation != "HUGGINGFACE_SERVER":
        detail = "Predictive unit modelUri required when using standalone servers"
        errors.append(FieldError(where, name, detail))
    if spec.get("protocol") == "tensorflow" and implementation in NO_TENSORFLOW:
        detail = "Prepackaged server does not handle tensorflow protocol " + implementation
        errors.append(FieldError(where, name, detail))
    container = _container(predictor, name)
    if (container is None or not container.get("image")) and implementation not in PREPACKED:
        errors.append(FieldError(where, name, "No entry in predictors map for " + implementation))
    return errors


def _transport_errors(
    spec: dict[str, Any], predictors: list[dict[str, Any]]
) -> Iterator[FieldError]:
    """One endpoint type across every graph, and the deployment's transport if it sets one."""
    found = {
        unit["endpoint"]["type"]
        for predictor in predictors
        for unit in _walk(predictor.get("graph") or {})
        if (unit.get("endpoint") or {}).get("type")
    }
    if len(found) > 1:
        yield FieldError(
            "spec",
            "",
            "Multiple endpoint.types found - can only have 1 type in graph. "
            "Please use spec.transport",
        )
    elif (
        found
        and spec.get("transport")
        and any(
            t in ENDPOINT_TRANSPORT and ENDPOINT_TRANSPORT[t] != spec["transport"] for t in found
        )
    ):
        yield FieldError(
            "spec",
            "",
            "Mixed transport types found. Remove graph endpoint.types if transport set at "
            "deployment level",
        )


def _traffic_errors(predictors: list[dict[str, Any]]) -> Iterator[FieldError]:
    """``checkTraffic``: predictors other than the shadow share 100% of the traffic."""
    total, shadows = 0, 0
    for predictor in predictors:
        traffic = predictor.get("traffic", 0)
        if not predictor.get("shadow"):
            total += traffic
            continue
        shadows += 1
        if shadows > 1:
            yield FieldError("spec", predictor["name"], "Multiple shadows are not allowed")
        if not 0 <= traffic <= 100:
            yield FieldError(
                "spec",
                predictor["name"],
                "shadow traffic is illegal, the traffic number should be between [0, 100]",
            )
    first = predictors[0]["name"] if predictors else ""
    if total != 100 and len(predictors) - shadows > 1:
        yield FieldError("spec", first, "Traffic must sum to 100 for multiple predictors")
    if 0 < total < 100 and len(predictors) == 1:
        yield FieldError("spec", first, "Traffic must sum be 100 for a single predictor when set")


def _walk(unit: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield unit
    for child in unit.get("children") or []:
        yield from _walk(child)


def _container(predictor: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (
            container
            for component in predictor.get("componentSpecs") or []
            for container in ((component or {}).get("spec") or {}).get("containers") or []
            if container.get("name") == name
        ),
        None,
    )
