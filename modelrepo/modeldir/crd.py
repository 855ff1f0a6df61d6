"""The SeldonDeployment CRD of Seldon Core 1.18.2, vendored, as the schema deployments must meet.

``crd/seldondeployments.machinelearning.seldon.io.yaml`` is the CRD that Seldon Core v1.18.2's
Helm chart installs (SeldonIO/seldon-core at tag v1.18.2, ``helm-charts/seldon-core-operator/
templates/customresourcedefinition_v1_seldondeployments.machinelearning.seldon.io.yaml``),
rendered, its schema unchanged. (The operator's ``config/crd/bases`` copy of the same tag is not
structural, ``graph.children`` items have no type, and a current API server refuses it.) Its
``openAPIV3Schema`` checks names, nesting and types (an int32 ``replicas``, string parameter
values, quantities, int-or-string ports) but no enum: the graph's node types and parameter types
are left to the operator (see ``modelrepo.modeldir.deployment``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

CRD_FILE = "crd/seldondeployments.machinelearning.seldon.io.yaml"
GROUP, KIND, VERSION = "machinelearning.seldon.io", "SeldonDeployment", "v1"
#: OpenAPI annotations that JSON schema does not know and that change nothing here
_DROPPED = {"description", "format", "x-kubernetes-map-type", "x-kubernetes-list-type"}


@cache
def definition() -> dict[str, Any]:
    """The CustomResourceDefinition, as an API server is given it (libyaml: it is 1.8 MB)."""
    text = resources.files(__package__).joinpath(CRD_FILE).read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    (document,) = (d for d in yaml.load_all(text, Loader=loader) if d)
    return document


def openapi_schema(version: str = VERSION) -> dict[str, Any]:
    """The version's ``openAPIV3Schema`` exactly as the CRD states it."""
    (served,) = (v for v in definition()["spec"]["versions"] if v["name"] == version)
    return served["schema"]["openAPIV3Schema"]


@cache
def json_schema(version: str = VERSION) -> dict[str, Any]:
    """The ``openAPIV3Schema`` as a JSON schema for ``jsonschema``, with one addition: objects
    with declared properties refuse others. The API server prunes unknown fields silently, so
    a misspelt ``readynessProbe`` would vanish on apply; here it is an error."""
    return _closed(openapi_schema(version))


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: {name: _closed(sub) for name, sub in value.items()}
        if key == "properties"
        else _closed(value)
        for key, value in node.items()
        if key not in _DROPPED
    }
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        converted.setdefault("additionalProperties", False)
    return converted
