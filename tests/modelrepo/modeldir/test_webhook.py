"""Every rule of Seldon Core 1.18.2's admission webhook, refused with the webhook's message.

Each case breaks one rule in a deployment that ``modelrepo deploy`` writes and expects the
exact text of ``seldondeployment_webhook.go`` (``field.Invalid`` as Kubernetes prints it) among
``deployment_problems``, and the whole refusal as the webhook's ``apierrors.NewInvalid``.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from conftest import MODELS_DIR, run_cli

from modelrepo.modeldir.deployment import DEPLOYMENT_FILE, deployment_problems
from modelrepo.modeldir.webhook import GROUP_KIND, refusal


def base() -> dict:
    return yaml.safe_load((MODELS_DIR / "sklearn-iris" / DEPLOYMENT_FILE).read_text())


def with_canary(resource: dict, traffic: tuple[int, int] = (90, 10)) -> dict:
    (main,) = resource["spec"]["predictors"]
    canary = {**copy.deepcopy(main), "name": "canary"}
    main["traffic"], canary["traffic"] = traffic
    resource["spec"]["predictors"].append(canary)
    return resource


def predictor(resource: dict, i: int = 0) -> dict:
    return resource["spec"]["predictors"][i]


def add_child(resource: dict) -> dict:
    graph = predictor(resource)["graph"]
    graph["children"] = [{**copy.deepcopy(graph), "name": "child"}]
    return graph["children"][0]


def _shadow_only(r: dict) -> None:
    predictor(r)["shadow"] = True


def _svc_names(r: dict) -> None:
    with_canary(r)
    for p in r["spec"]["predictors"]:
        p["annotations"] = {"seldon.io/svc-name": "iris"}


def _no_engine(r: dict) -> None:
    predictor(r)["annotations"] = {"seldon.io/no-engine": "true"}
    add_child(r)
    predictor(r)["componentSpecs"][0]["spec"]["containers"][0]["name"] = "model"
    container = copy.deepcopy(predictor(r)["componentSpecs"][0]["spec"]["containers"][0])
    predictor(r)["componentSpecs"][0]["spec"]["containers"].append({**container, "name": "child"})


def _prepacked(implementation: str, uri: str = "", protocol: str = "seldon"):
    def change(r: dict) -> None:
        r["spec"]["protocol"] = protocol
        graph = predictor(r)["graph"]
        graph.update(name="packed", implementation=implementation)
        if uri:
            graph["modelUri"] = uri

    return change


def _shadows(r: dict, traffic: int = 0, count: int = 2) -> None:
    with_canary(r, (100, 0))
    for i in range(count):
        shadow = {**copy.deepcopy(predictor(r)), "name": f"shadow{i}", "shadow": True}
        shadow["traffic"] = traffic
        r["spec"]["predictors"].append(shadow)
    predictor(r, 1)["traffic"] = 0


RULES = {
    "protocol": (
        lambda r: r["spec"].update(protocol="grpc"),
        'spec: Invalid value: "grpc": Invalid protocol',
    ),
    "transport": (
        lambda r: r["spec"].update(transport="http"),
        'spec: Invalid value: "http": Invalid transport',
    ),
    "server type": (
        lambda r: r["spec"].update(serverType="http"),
        'spec: Invalid value: "http": Invalid serverType',
    ),
    "kafka without its settings": (
        lambda r: r["spec"].update(serverType="kafka"),
        'spec.predictors[0]: Invalid value: "default": For kafka please supply svcOrchSpec envs '
        "KAFKA_BROKER, KAFKA_INPUT_TOPIC, KAFKA_OUTPUT_TOPIC",
    ),
    "a shadow alone": (
        _shadow_only,
        'spec.predictors[0]: Invalid value: "default": Shadow can not exist as only predictor',
    ),
    "two services of one name": (
        _svc_names,
        'spec.predictors[1]: Invalid value: "canary": Found duplicate service name in '
        "seldon.io/svc-name with value iris",
    ),
    "no predictors": (
        lambda r: r["spec"].update(predictors=[]),
        'spec: Invalid value: "": Graph contains no predictors',
    ),
    "no engine for a graph": (
        _no_engine,
        'spec.predictors[0]: Invalid value: "default": Running without engine only valid for '
        "single element graphs",
    ),
    "predictor names repeat": (
        lambda r: predictor(with_canary(r), 1).update(name="default"),
        'spec.predictors[1]: Invalid value: "default": Duplicate predictor name',
    ),
    "node without its container": (
        lambda r: predictor(r)["graph"].update(name="classifier"),
        'spec.predictors[0].graph: Invalid value: "classifier": Can\'t find container for '
        "Predictive Unit",
    ),
    "child without its container": (
        add_child,
        'spec.predictors[0].graph[0]: Invalid value: "child": Can\'t find container for '
        "Predictive Unit",
    ),
    "unknown type without methods": (
        lambda r: predictor(r)["graph"].update(type="UNKNOWN_TYPE"),
        'spec.predictors[0].graph: Invalid value: "model": Predictive Unit has no implementation '
        "methods defined. Change to a known type or add what methods it defines",
    ),
    "prepackaged server without a model": (
        _prepacked("SKLEARN_SERVER"),
        'spec.predictors[0].graph: Invalid value: "packed": Predictive unit modelUri required '
        "when using standalone servers",
    ),
    "prepackaged server on the tensorflow protocol": (
        _prepacked("XGBOOST_SERVER", uri="gs://models/xgb", protocol="tensorflow"),
        'spec.predictors[0].graph: Invalid value: "packed": Prepackaged server does not handle '
        "tensorflow protocol XGBOOST_SERVER",
    ),
    "unknown prepackaged server": (
        _prepacked("ONNX_SERVER", uri="gs://models/onnx"),
        'spec.predictors[0].graph: Invalid value: "packed": No entry in predictors map for '
        "ONNX_SERVER",
    ),
    "logger without a mode": (
        lambda r: predictor(r)["graph"].update(logger={"url": "http://logger"}),
        'spec.predictors[0].graph: Invalid value: "": No logger mode specified',
    ),
    "two endpoint types": (
        lambda r: add_child(r).update(endpoint={"type": "GRPC"}),
        'spec: Invalid value: "": Multiple endpoint.types found - can only have 1 type in graph. '
        "Please use spec.transport",
    ),
    "endpoint type against the transport": (
        lambda r: r["spec"].update(transport="grpc"),
        'spec: Invalid value: "": Mixed transport types found. Remove graph endpoint.types if '
        "transport set at deployment level",
    ),
    "two shadows": (
        _shadows,
        'spec: Invalid value: "shadow1": Multiple shadows are not allowed',
    ),
    "shadow traffic out of range": (
        lambda r: _shadows(r, traffic=101, count=1),
        'spec: Invalid value: "shadow0": shadow traffic is illegal, the traffic number should be '
        "between [0, 100]",
    ),
    "traffic not adding up to 100": (
        lambda r: with_canary(r, (90, 20)),
        'spec: Invalid value: "default": Traffic must sum to 100 for multiple predictors',
    ),
    "a single predictor's partial traffic": (
        lambda r: predictor(r).update(traffic=50),
        'spec: Invalid value: "default": Traffic must sum be 100 for a single predictor when set',
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_webhook_rule_is_refused_with_its_message(rule):
    change, message = RULES[rule]
    broken = base()
    change(broken)
    assert message in deployment_problems(broken)
    refused = refusal(broken)
    assert refused.startswith(f'{GROUP_KIND} "" is invalid: ') and message in refused


def test_the_deployments_written_pass_every_rule():
    assert refusal(base()) is None
    assert refusal(with_canary(base())) is None


def test_several_broken_rules_are_refused_together_in_the_webhooks_order():
    broken = with_canary(base(), (90, 20))
    predictor(broken, 1)["name"] = "default"
    assert refusal(broken) == (
        f'{GROUP_KIND} "" is invalid: ['
        'spec.predictors[1]: Invalid value: "default": Duplicate predictor name, '
        'spec: Invalid value: "default": Traffic must sum to 100 for multiple predictors]'
    )


def test_check_refuses_a_deployment_yaml_the_webhook_would_refuse(tmp_path):
    model_dir = shutil.copytree(MODELS_DIR / "sklearn-iris", tmp_path / "sklearn-iris")
    edited = with_canary(base(), (90, 20))
    (model_dir / DEPLOYMENT_FILE).write_text(yaml.safe_dump(edited, sort_keys=False))
    checked = run_cli("check", model_dir)
    assert checked.exit_code == 1
    assert "Traffic must sum to 100 for multiple predictors" in checked.output
