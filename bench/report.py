"""Turns a run into the Markdown tables and the PNG plot of bench/results/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Case, Run


@dataclass(frozen=True)
class Target:
    """A goal stated as a ratio between two cases (c connections, 1 row) of the same run."""

    name: str
    goal: str
    top: tuple[str, str, int]  # (server, model, connections)
    bottom: tuple[str, str, int]
    field: str  # "rps" or "p50_ms"
    met: Callable[[float], bool]
    unit: str = "x"

    def measure(self, run: Run) -> float | None:
        a, b = run.case(*self.top, 1), run.case(*self.bottom, 1)
        if a is None or b is None or not getattr(b, self.field):
            return None
        return getattr(a, self.field) / getattr(b, self.field)

    def by_cpu(self, run: Run) -> float | None:
        """A throughput ratio as the inverse ratio of CPU time per request, if it is one."""
        a, b = run.case(*self.top, 1), run.case(*self.bottom, 1)
        if self.field != "rps" or a is None or b is None or not a.cpu_ms:
            return None
        return b.cpu_ms / a.cpu_ms


IRIS, TORCH, TF = "sklearn-iris", "torch-classifier", "tf-regressor"
TARGETS = [
    Target(
        "sklearn-iris as deployed / cookbook Flask app, req/s at c=8, 1 row",
        ">= 15x",
        (f"{IRIS}-deployed", IRIS, 8),
        ("flask", IRIS, 8),
        "rps",
        lambda x: x >= 15,
    ),
    Target(
        "sklearn-iris as deployed / MLServer, req/s at c=8, 1 row",
        ">= 5x",
        (f"{IRIS}-deployed", IRIS, 8),
        ("mlserver", IRIS, 8),
        "rps",
        lambda x: x >= 5,
    ),
    Target(
        "sklearn-iris as deployed / MLServer, both over V2 REST, req/s at c=8, 1 row",
        ">= 5x",
        (f"{IRIS}-v2", IRIS, 8),
        ("mlserver", IRIS, 8),
        "rps",
        lambda x: x >= 5,
    ),
    Target(
        "torch-classifier as deployed / Seldon ceiling, req/s at c=8, 1 row",
        ">= 95%",
        (f"{TORCH}-deployed", TORCH, 8),
        ("ceiling", TORCH, 8),
        "rps",
        lambda x: x >= 0.95,
        unit="%",
    ),
    *(
        Target(
            f"{name} as deployed, plain seldon-core-microservice / launcher, req/s at c=8, 1 row",
            ">= 90%",
            (f"{name}-seldon", name, 8),
            (f"{name}-deployed", name, 8),
            "rps",
            lambda x: x >= 0.9,
            unit="%",
        )
        for name in (TORCH, IRIS)
    ),
    Target(
        "tf-regressor as deployed / Seldon ceiling, p50 latency at c=1, 1 row",
        "<= 1.2x",
        (f"{TF}-deployed", TF, 1),
        ("ceiling", TF, 1),
        "p50_ms",
        lambda x: x <= 1.2,
    ),
    Target(
        "Keras model.predict wrapper / tf-regressor as deployed, p50 latency at c=1, 1 row",
        ">= 40x",
        ("keras", TF, 1),
        (f"{TF}-deployed", TF, 1),
        "p50_ms",
        lambda x: x >= 40,
    ),
]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    return f"{value:.0%}" if unit == "%" else f"{value:.3f}x" if value < 10 else f"{value:.1f}x"


def case_label(run: Run, case: Case) -> str:
    label = case.label
    if case.server.startswith("ceiling"):
        label += f" ({case.model} input)"
    return label


def target_table(run: Run) -> list[str]:
    lines = [
        "| target | measured | goal | met | same ratio by CPU time per request |",
        "| --- | --- | --- | --- | --- |",
    ]
    for target in TARGETS:
        value = target.measure(run)
        met = "—" if value is None else ("yes" if target.met(value) else "**no**")
        cpu = target.by_cpu(run)
        lines.append(
            f"| {target.name} | {_fmt(value, target.unit)} | {target.goal} | {met} | "
            f"{_fmt(cpu, target.unit) if cpu is not None else ''} |"
        )
    return lines


def markdown(run: Run, plot_name: str | None = None, targets: bool = True) -> str:
    m, plan = run.machine, run.plan
    lines = [
        f"Measured on {m['date']}: **{m['cores']} cores** ({m['cpu']}), Python {m['python']}, "
        f"load average {m['load_before']} before the run. Load: `wrk`, 1 thread, c connections "
        f"each with one request in flight, {plan.duration} s per case, best of {plan.rounds} "
        f"rounds; all servers up together and visited in turn, so ratios compare like with like.",
        "",
    ]
    if plot_name:
        lines += [f"![throughput and latency]({plot_name})", ""]
    if targets:
        lines += [*target_table(run), ""]
    lines += ["| server | settings | start-up to first answer |", "| --- | --- | --- |"]
    for key, seconds in run.startup_s.items():
        lines.append(f"| `{key}` | {run.servers[key]} | {seconds:.1f} s |")
    lines += ["", "Predictions on the same 100-row batch:", ""]
    for check in run.checks:
        verdict = "equal" if check.equal else "**DIFFERENT**"
        lines.append(
            f"* {check.model}: `{check.server}` vs `{check.reference}`: {verdict} ({check.detail})"
        )
    lines += [
        "",
        "| server | model | c | rows | req/s | p50 ms | p99 ms | CPU ms/req | errors "
        "| worker RSS MB | all processes PSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in run.cases:
        lines.append(
            f"| `{c.server}` | {c.model} | {c.concurrency} | {c.rows} | {c.rps:.0f} | "
            f"{c.p50_ms:.2f} | {c.p99_ms:.2f} | {c.cpu_ms:.2f} | {c.errors} | "
            f"{c.worker_rss_mb:.0f} | "
            f"{c.total_pss_mb:.0f} |"
        )
    lines += [
        "",
        "*CPU ms/req*: CPU time of all the server's processes per answered request (the "
        "load generator not included), steadier than req/s when other work shares the machine. "
        "*worker RSS*: the largest process that did work under load (for Seldon a gunicorn "
        "worker; for MLServer its front process or an inference worker). *all processes PSS*: "
        "every process of the server, shared pages counted once.",
    ]
    return "\n".join(lines) + "\n"


def plot(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys((c.server, c.model) for c in run.cases if c.rows == 1))
    low, high = min(run.plan.concurrencies), max(run.plan.concurrencies)
    panels = [
        (high, "rps", f"requests/s, {high} connections, 1 row (higher is better)"),
        (low, "p50_ms", f"p50 latency ms, {low} connection(s), 1 row (lower is better)"),
    ]
    figure, axes = plt.subplots(1, 2, figsize=(13, 0.35 * len(keys) + 1.5))
    for axis, (connections, field, title) in zip(axes, panels, strict=True):
        cases = [run.case(server, model, connections, 1) for server, model in keys]
        values = [getattr(c, field) if c else 0.0 for c in cases]
        labels = [case_label(run, c) if c else "" for c in cases]
        colors = ["tab:blue" if s.endswith("-deployed") else "tab:gray" for s, _ in keys]
        axis.barh(range(len(keys)), values, color=colors, tick_label=labels)
        axis.set_xscale("log")
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        for y, v in enumerate(values):
            axis.text(v, y, f" {v:.0f}" if v >= 100 else f" {v:.3g}", va="center", fontsize=8)
    axes[1].set_yticklabels([])
    figure.suptitle(
        f"modelrepo serving benchmark: {run.machine['cores']} cores, {run.machine['date']} "
        "(blue: this repository's models as deployed)",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(run: Run, out_dir: Path, targets: bool = True) -> Path:
    """Writes results.json, results.md and results.png into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(run.to_json())
    plot(run, out_dir / "results.png")
    path = out_dir / "results.md"
    path.write_text(markdown(run, "results.png", targets))
    return path
