"""The contracts between a graph's nodes, as Seldon's executor passes messages between them.

A MODEL or TRANSFORMER sends its answer to each child, so its outputs must fit each child's
inputs. A ROUTER passes the request it got to the child it picks, so its inputs must fit each
child's. A COMBINER gets every child's answer, so those answers must agree with each other and
fit its inputs. An OUTPUT_TRANSFORMER passes its request to its children and transforms their
answer, so their outputs must fit its inputs. "Fit" is one rule, ``misfits``: what a node sends
is what the receiving node's contract (``wrappers.contract``) accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelrepo.modeldir.check import Report, check_deployment
from modelrepo.modeldir.graph import Graph, GraphError, Node
from wrappers.contract import Spec, TableSpec, TensorSpec, TextSpec, takes_text
from wrappers.errors import ManifestError

#: how far a number may travel in JSON: bool into int or float, int into float
NUMBER_RANK = {"b": 0, "i": 1, "u": 1, "f": 2}
#: the tensor dtypes that a table column of each type reads
COLUMN_KINDS = {"float": "biuf", "int": "biu", "bool": "b", "string": "S", "category": "S"}


@dataclass(frozen=True)
class Edge:
    """One message's way in a graph: what ``sender`` sends, and what ``taker`` takes."""

    sender: str
    taker: str
    sent: Sequence[Spec]
    taken: Sequence[Spec]


def edges(graph: Graph) -> list[Edge]:
    """Every message a parent and a child exchange, for every parent in ``graph``."""
    found = []
    for node in graph.nodes():
        if not node.children:
            continue
        parent = graph.manifest(node)
        kind = parent.kind
        children = [(child, graph.manifest(child)) for child in node.children]
        for child, manifest in children:
            if kind in ("model", "transformer"):
                found.append(Edge(f"{node.name} outputs", f"{child.name} inputs",
                                  parent.outputs, manifest.inputs))  # fmt: skip
            elif kind == "router":
                found.append(Edge(f"{node.name} inputs (passed on)", f"{child.name} inputs",
                                  parent.inputs, manifest.inputs))  # fmt: skip
            else:  # combiner, output_transformer: the children answer to the parent
                found.append(Edge(f"{child.name} outputs", f"{node.name} inputs",
                                  manifest.outputs, parent.inputs))  # fmt: skip
        if kind == "combiner":
            (first, first_manifest), *others = children
            found += [
                Edge(f"{child.name} outputs", f"{first.name} outputs",
                     manifest.outputs, first_manifest.outputs)
                for child, manifest in others
            ]  # fmt: skip
    return found


def check_graph(graph_dir: Path) -> Report:
    """graph.yaml, each node's number of children, each parent-child contract, and the graph's
    ``deployment.yaml``."""
    report = Report(Path(graph_dir))
    try:
        graph = Graph.read(graph_dir)
        problems = contract_problems(graph)
    except (GraphError, ManifestError) as exc:
        report.add("graph", "fail", str(exc))
        return report
    report.add("graph", "ok", f"{graph.name}: {len(graph.nodes())} nodes")
    for node, declared in declared_children(graph):
        if declared == len(node.children):
            report.add("children", "ok", f"{node.name} takes {declared} children")
        else:
            report.add("children", "fail", children_misfit(node, declared))
    for edge, found in problems:
        for problem in found:
            report.add("contract", "fail", problem)
        if not found:
            report.add("contract", "ok", f"{edge.sender} fit {edge.taker}")
    check_deployment(report)
    return report


def declared_children(graph: Graph) -> list[tuple[Node, int]]:
    """Each node whose manifest declares how many children it takes (a built-in combiner's
    or router's ``options.children``), with that number."""
    declared = ((node, graph.manifest(node).options.get("children")) for node in graph.nodes())
    return [(node, count) for node, count in declared if count is not None]


def children_misfit(node: Node, declared: int) -> str:
    return (
        f"{node.name} ({node.model}) takes {declared} children, the graph gives it "
        f"{len(node.children)}: a combiner would refuse every answer, a router pick a child "
        "that is not there"
    )


def graph_problems(graph: Graph) -> list[str]:
    """Everything that keeps ``graph`` from running: a node given another number of children
    than it takes, and every parent-child message that does not fit."""
    problems = [
        children_misfit(node, count)
        for node, count in declared_children(graph)
        if count != len(node.children)
    ]
    return problems + [problem for _, found in contract_problems(graph) for problem in found]


def contract_problems(graph: Graph) -> list[tuple[Edge, list[str]]]:
    """Each edge of ``graph`` and what does not fit on it (empty where all fits)."""
    return [(edge, misfits(edge)) for edge in edges(graph)]


def misfits(edge: Edge) -> list[str]:
    """Why what ``edge.sender`` sends does not fit what ``edge.taker`` takes. One output meets
    one input whatever their names (Seldon sends it as ``data``); several meet by name."""
    where = f"{edge.sender} -> {edge.taker}"
    if len(edge.sent) == 1 and len(edge.taken) == 1:
        pairs = [(edge.sent[0], edge.taken[0])]
    else:
        by_name = {spec.name: spec for spec in edge.sent}
        missing = [spec.name for spec in edge.taken if spec.name not in by_name]
        if missing:
            return [f"{where}: {missing} are taken but not sent (sent: {sorted(by_name)})"]
        pairs = [(by_name[spec.name], spec) for spec in edge.taken]
    return [
        f"{where}: {sent.name!r} -> {taken.name!r}: {reason}"
        for sent, taken in pairs
        for reason in _reasons(sent, taken)
    ]


def _reasons(sent: Spec, taken: Spec) -> list[str]:
    if isinstance(sent, TableSpec):
        return _table_reasons(sent, taken)
    if isinstance(sent, TextSpec) or sent.dtype == "string":
        if takes_text(taken):
            return []
        return [f"texts are sent, {taken.kind} {_shown(taken)} is taken"]
    if isinstance(taken, TextSpec):
        return [f"{_shown(sent)} is sent, texts are taken"]
    if isinstance(taken, TableSpec):
        return _tensor_to_table(sent, taken)
    return _tensor_reasons(sent, taken)


def _tensor_reasons(sent: TensorSpec, taken: TensorSpec) -> list[str]:
    reasons = []
    if taken.dtype == "string" or NUMBER_RANK[_kind(sent)] > NUMBER_RANK[_kind(taken)]:
        reasons.append(f"dtype {sent.dtype} is sent, {taken.dtype} is taken")
    clash = len(sent.shape) != len(taken.shape) or any(
        -1 not in (a, b) and a != b for a, b in zip(sent.shape, taken.shape, strict=False)
    )
    if clash:
        reasons.append(f"shape {sent.shape} is sent, {taken.shape} is taken")
    elif taken.names is not None and set(sent.columns) != set(taken.names):
        reasons.append(f"columns {sent.columns} are sent, {taken.names} are taken")
    return reasons


def _tensor_to_table(sent: TensorSpec, taken: TableSpec) -> list[str]:
    names = [c.name for c in taken.columns]
    if len(sent.shape) != 2 or set(sent.columns) != set(names):
        return [f"{_shown(sent)} is sent, table columns {names} are taken"]
    return [
        f"column {c.name!r}: dtype {sent.dtype} is sent, {c.type} is taken"
        for c in taken.columns
        if _kind(sent) not in COLUMN_KINDS[c.type]
    ]


def _table_reasons(sent: TableSpec, taken: Spec) -> list[str]:
    if not isinstance(taken, TableSpec):
        return [f"table columns {[c.name for c in sent.columns]} are sent, {_shown(taken)} taken"]
    given = {c.name: c.type for c in sent.columns}
    return [
        f"column {c.name!r}: " + (f"{given[c.name]} is sent" if c.name in given else "not sent")
        + f", {c.type} is taken"
        for c in taken.columns
        if given.get(c.name) != c.type
    ]  # fmt: skip


def _kind(spec: TensorSpec) -> str:
    return "S" if spec.dtype == "string" else "b" if spec.dtype == "bool" else spec.dtype[0]


def _shown(spec: Spec) -> str:
    if isinstance(spec, TensorSpec):
        return f"tensor {spec.dtype} {spec.shape}"
    return spec.kind
