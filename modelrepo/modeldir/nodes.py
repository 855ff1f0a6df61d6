"""``modelrepo new`` for the graph nodes that are not plain models: the built-in combiners and
routers (a JSON artifact made from flags) and the contract a combiner reads from its children.

A combiner's input is what each child answers (``--like`` a child's model directory, else
``--features``); a router's is what its children take (``--like`` a child, else
``--features`` or ``--n-features``). A router answers the index of a child, one per request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelrepo.modeldir.request import NewModel
from wrappers import codecs, wrapper_for
from wrappers.contract import Spec, TensorSpec
from wrappers.core.combine import (
    COMBINER_FILE,
    CombinerConfig,
    combine,
    output_spec,
    side_by_side,
)
from wrappers.core.manifest import GoldenPair, Manifest, artifacts_under, python_version
from wrappers.core.routing import ROUTER_FILE, RouterConfig
from wrappers.errors import ScaffoldError

#: what a router answers: the index of the child a request goes to
ROUTE = TensorSpec(name="route", dtype="int64", shape=[1, 1], names=["route"])
#: rows of each child's made-up output in a combiner's golden pairs
CHILD_ROWS = 3


def is_builtin(request: NewModel) -> bool:
    return request.combine is not None or request.route is not None


def builtin_config(request: NewModel) -> CombinerConfig | RouterConfig:
    """The configuration the flags describe, checked as the server will read it."""
    if request.children is None:
        raise ScaffoldError("a built-in combiner or router needs --children N")
    try:
        if request.combine is not None:
            return CombinerConfig(
                combine=request.combine,  # type: ignore[arg-type]
                children=request.children,
                weights=request.weights,
            )
        return RouterConfig(
            route=request.route,  # type: ignore[arg-type]
            children=request.children,
            seed=request.seed,
            weights=request.weights,
            epsilon=request.epsilon,
        )
    except ValueError as exc:
        raise ScaffoldError(f"the flags do not make a built-in: {exc}") from exc


def build_builtin(request: NewModel, work: Path) -> Manifest:
    """Writes the built-in's JSON artifact and returns its manifest (with golden pairs for a
    combiner; a router's answers depend on its state, so it has none)."""
    config = builtin_config(request)
    combiner = isinstance(config, CombinerConfig)
    kind = "combiner" if combiner else "router"
    if request.kind not in ("model", kind):
        raise ScaffoldError(f"--{'combine' if combiner else 'route'} makes a {kind}")
    artifact = COMBINER_FILE if combiner else ROUTER_FILE
    (work / artifact).write_text(config.model_dump_json(indent=2, exclude_none=True) + "\n")
    if isinstance(config, CombinerConfig):
        child = child_output(request)
        inputs: list[Spec] = [child]
        outputs = [output_spec(config, child)]
        golden = combiner_golden(child, outputs[0], config.children, lambda v: combine(config, v))
        description = f"The {config.combine} of {config.children} children's {child.name}."
    else:
        inputs, outputs, golden = children_inputs(request), [ROUTE], []
        description = f"A {config.route} router over {config.children} children."
    return Manifest(
        name=request.model_name,
        version=request.version,
        description=request.description or description,
        kind=kind,
        framework="builtin",
        framework_version=wrapper_for("builtin").installed_version(),
        python_version=python_version(),
        artifacts=artifacts_under(work, artifact),
        inputs=inputs,
        outputs=outputs,
        golden=golden,
        tolerance=1e-9 if request.tolerance is None else request.tolerance,
        options={"children": config.children},
    )


def child_output(request: NewModel) -> TensorSpec:
    """What each of a combiner's children answers: ``--like``'s one output, else a float
    matrix of the ``--features`` columns."""
    if request.like is not None:
        outputs = Manifest.read(Path(request.like)).outputs
        if len(outputs) != 1:
            raise ScaffoldError(
                f"{request.like} gives {len(outputs)} outputs; a combiner reads one"
            )
        return outputs[0]
    names = request.features or (
        [f"x{i}" for i in range(request.n_features)] if request.n_features else None
    )
    if names is None:
        raise ScaffoldError(
            "say what the children answer: --like a child's model directory, or --features"
        )
    return TensorSpec(name="input", dtype="float64", shape=[-1, len(names)], names=names)


def children_inputs(request: NewModel) -> list[Spec]:
    """What a router's children take: ``--like``'s inputs, else a matrix of the flags'."""
    if request.like is not None:
        return list(Manifest.read(Path(request.like)).inputs)
    return [child_output(request)]


def child_samples(child: TensorSpec, children: int) -> list[np.ndarray]:
    """Seeded made-up outputs of each child: probability rows (Dirichlet) for a float matrix."""
    if child.dtype not in ("float32", "float64") or child.rank != 2 or child.width < 1:
        raise ScaffoldError(
            f"{child.name}: golden outputs can only be made up for a float matrix of children's "
            f"outputs, not {child.dtype}{child.shape}"
        )
    generator = np.random.default_rng(0)
    ones = np.ones(child.width)
    return [generator.dirichlet(ones, CHILD_ROWS).round(4) for _ in range(children)]


def combiner_golden(
    child: TensorSpec, output: TensorSpec, children: int, combined: Any
) -> list[GoldenPair]:
    """A combiner's golden pairs: one child row each, then every row, with the combination
    computed here directly on the children's values side by side."""
    samples = child_samples(child, children)
    pairs = []
    for cut in (slice(0, 1), slice(0, CHILD_ROWS)):
        parts = [sample[cut] for sample in samples]
        answer = np.asarray(combined(side_by_side(parts)))
        pairs.append(
            GoldenPair(
                input={child.name: [codecs.encode(child, part) for part in parts]},
                output={output.name: codecs.encode(output, answer)},
            )
        )
    return pairs
