"""The heavy cases' results: goals as ratios of one run, tables, and plots of req/s and p99
against concurrency (one PNG per model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Case
from bench.heavy.run import HeavyRun

OURS_FAST = ("v2-binary", "grpc")


def _cases(run: HeavyRun, model: str, prefix: str, wires: tuple[str, ...] = ()) -> list[Case]:
    return [
        c
        for c in run.cases
        if c.model == model
        and c.server.startswith(prefix)
        and (not wires or c.server.rsplit(":", 1)[1] in wires)
    ]


def _best(cases: list[Case], concurrency: int | None = None) -> Case | None:
    chosen = [c for c in cases if concurrency is None or c.concurrency == concurrency]
    return max(chosen, key=lambda c: c.rps, default=None)


@dataclass(frozen=True)
class Goal:
    name: str
    goal: str
    measure: Callable[[HeavyRun, str], tuple[float | None, str]]
    met: Callable[[float], bool]


def _vs_limit(run: HeavyRun, model: str) -> tuple[float | None, str]:
    ours = _best(_cases(run, model, "ours-"), 16)
    limit = run.inprocess.get(model, {}).get("limit", {})
    if ours is None or not limit:
        return None, ""
    batch = limit["best_batch"]
    return ours.rps / limit["best_rows_per_s"], f"`{ours.server}` vs the model at batch {batch}"


def _vs_peer(peer: str) -> Callable[[HeavyRun, str], tuple[float | None, str]]:
    def ratio(run: HeavyRun, model: str) -> tuple[float | None, str]:
        ours, theirs = _best(_cases(run, model, "ours-")), _best(_cases(run, model, peer))
        if ours is None or theirs is None or not theirs.rps:
            return None, ""
        where = f"`{ours.server}` c={ours.concurrency} vs `{theirs.server}` c={theirs.concurrency}"
        return ours.rps / theirs.rps, where

    return ratio


def _p50_vs_call(run: HeavyRun, model: str) -> tuple[float | None, str]:
    ours = [c for c in _cases(run, model, "ours-", OURS_FAST) if c.concurrency == 1]
    call = run.inprocess.get(model, {}).get("limit", {}).get("call_ms")
    if not ours or not call:
        return None, ""
    best = min(ours, key=lambda c: c.p50_ms)
    return best.p50_ms / call, f"`{best.server}` p50 {best.p50_ms:.2f} ms vs {call:.2f} ms"


def _own_cost(wire: str) -> Callable[[HeavyRun, str], tuple[float | None, str]]:
    def share(run: HeavyRun, model: str) -> tuple[float | None, str]:
        found = run.inprocess.get(model, {}).get("overhead", {}).get(wire)
        if not found:
            return None, ""
        return found["own_share"], f"{found['own_ms']:.2f} ms of {found['model_ms']:.2f} ms"

    return share


GOALS = [
    Goal("served req/s at c=16 / in-process best-batch limit", ">= 0.8x", _vs_limit,
         lambda x: x >= 0.8),
    Goal("our best req/s / TorchServe's best", ">= 1.5x", _vs_peer("torchserve-"),
         lambda x: x >= 1.5),
    Goal("our best req/s / MLServer's best", ">= 1.5x", _vs_peer("mlserver-"),
         lambda x: x >= 1.5),
    Goal("p50 at c=1 (binary REST or gRPC) / bare model call", "<= 1.2x", _p50_vs_call,
         lambda x: x <= 1.2),
    Goal("server's own cost / model time, one request, V2 binary REST", "<= 5%",
         _own_cost("v2-binary"), lambda x: x <= 0.05),
    Goal("server's own cost / model time, one request, V2 gRPC", "<= 5%", _own_cost("grpc"),
         lambda x: x <= 0.05),
]  # fmt: skip


def goal_table(run: HeavyRun) -> list[str]:
    lines = [
        "| model | goal | measured | target | met | between |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for model in run.plan.models:
        for goal in GOALS:
            value, where = goal.measure(run, model)
            if value is None:
                shown, met = "not measured", "—"
            else:
                shown = f"{value:.1%}" if goal.goal.endswith("%") else f"{value:.2f}x"
                met = "yes" if goal.met(value) else "**no**"
            lines.append(f"| {model} | {goal.name} | {shown} | {goal.goal} | {met} | {where} |")
    return lines


def inprocess_table(run: HeavyRun) -> list[str]:
    lines = [
        "| model | bare call, batch 1 | rows/s by batch size | best |",
        "| --- | --- | --- | --- |",
    ]
    for model, found in run.inprocess.items():
        limit = found["limit"]
        rates = ", ".join(f"{b}: {r:.0f}" for b, r in limit["rows_per_s"].items())
        best = f"{limit['best_rows_per_s']:.0f} rows/s at batch {limit['best_batch']}"
        lines.append(f"| {model} | {limit['call_ms']:.2f} ms | {rates} | {best} |")
    return lines


def markdown(run: HeavyRun, plots: list[str]) -> str:
    m, plan = run.machine, run.plan
    lines = [
        f"Measured on {m['date']}: **{m['cores']} cores** ({m['cpu']}), Python {m['python']}, "
        f"load average {m['load_before']} before the run. One server at a time, one request "
        f"(one image or one sentence) per call, c calls in flight (`wrk` for REST, "
        f"`bench/heavy/grpc_load.py` for gRPC), {plan.duration} s per case after a "
        f"{plan.warmup} s warm-up.",
        "",
        *[f"![{name}]({name})" for name in plots],
        "",
        *goal_table(run),
        "",
        "The model alone, in process (the framework's call on checked inputs, all cores):",
        "",
        *inprocess_table(run),
        "",
        "| server | settings | cold start (process start to first answer) |",
        "| --- | --- | --- |",
        *[f"| `{k}` | {run.servers[k]} | {s:.1f} s |" for k, s in run.startup_s.items()],
        "",
        "Answers to the same request, against the model in process:",
        "",
        *[
            f"* {c.model}: `{c.server}`: {'equal' if c.equal else '**DIFFERENT**'} ({c.detail})"
            for c in run.checks
        ],
        "",
        "| server:wire | model | c | req/s | p50 ms | p99 ms | CPU ms/req | worker RSS MB "
        "| errors |",
        "|---" * 9 + "|",
        *[
            f"| `{c.server}` | {c.model} | {c.concurrency} | {c.rps:.1f} | {c.p50_ms:.1f} | "
            f"{c.p99_ms:.1f} | {c.cpu_ms:.1f} | {c.worker_rss_mb:.0f} | {c.errors} |"
            for c in run.cases
        ],
    ]
    return "\n".join(lines) + "\n"


def plot(run: HeavyRun, model: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rps, p99) = plt.subplots(1, 2, figsize=(13, 5))
    for server in dict.fromkeys(c.server for c in run.cases if c.model == model):
        cases = sorted(
            (c for c in run.cases if c.model == model and c.server == server),
            key=lambda c: c.concurrency,
        )
        style = "-" if server.startswith("ours-") else "--"
        x = [c.concurrency for c in cases]
        rps.plot(x, [c.rps for c in cases], style, marker="o", label=server)
        p99.plot(x, [c.p99_ms for c in cases], style, marker="o", label=server)
    limit = run.inprocess.get(model, {}).get("limit")
    if limit:
        rps.axhline(limit["best_rows_per_s"], color="black", linestyle=":", label="in process")
    for axis, title in ((rps, "requests/s (higher is better)"), (p99, "p99 ms (lower is better)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrency")
        axis.set_title(f"{model}: {title}", fontsize=10)
    p99.set_yscale("log")
    rps.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(run: HeavyRun, out_dir: Path) -> Path:
    """results.json, results.md and one PNG per model into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(run.to_json())
    plots = []
    for model in run.plan.models:
        if any(c.model == model for c in run.cases):
            plot(run, model, out_dir / f"{model}.png")
            plots.append(f"{model}.png")
    path = out_dir / "results.md"
    path.write_text(markdown(run, plots))
    return path
