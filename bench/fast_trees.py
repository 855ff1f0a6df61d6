"""Latency of scikit-learn vs the numpy tree evaluator on a model directory (in-process).

    .venv/bin/python bench/fast_trees.py [--model-dir models/sklearn-iris]

Times ``predict_proba`` on one row and on a 100-row batch, for the bare estimator and through
the served wrapper (validation included) with ``fast_trees`` on and off, after checking that
both give identical outputs on 2,000 rows.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from wrappers import SklearnModel

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_call(call: Callable[[], object], repeat: int) -> float:
    """Best seconds per call over ``repeat`` timings of an auto-sized loop (least disturbed)."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def sample_rows(model: SklearnModel, count: int) -> np.ndarray:
    """Rows spread around the golden inputs, as real requests would be."""
    golden = np.vstack([np.asarray(pair.input, dtype=np.float64) for pair in model.manifest.golden])
    rng = np.random.default_rng(0)
    picks = golden[rng.integers(0, len(golden), count)]
    return picks + rng.normal(0.0, 0.3, picks.shape) * golden.std(axis=0)


@click.command()
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=ROOT / "models" / "sklearn-iris",
)
@click.option("--repeat", default=7, show_default=True, help="timings per measurement")
def main(model_dir: Path, repeat: int) -> None:
    fast = SklearnModel(model_dir=model_dir)
    slow = SklearnModel(model_dir=model_dir, fast_trees=False)
    for model in (fast, slow):
        model.load()
    if fast.fast_path is None:
        raise click.ClickException(f"{model_dir} has no fast tree path")
    method = fast.method
    rows = sample_rows(fast, 2_000)
    identical = np.array_equal(
        getattr(fast.fast_path, method)(rows), getattr(fast.estimator, method)(rows)
    )
    click.echo(
        f"{fast.manifest.name}: {type(fast.estimator).__name__}, {fast.fast_path.n_trees} trees, "
        f"depth {fast.fast_path.depth}; {method} identical on {len(rows)} rows: {identical}"
    )
    if not identical:
        raise click.ClickException("outputs differ")

    click.echo(f"{'call':<34}{'rows':>5}{'scikit-learn':>15}{'fast path':>12}{'ratio':>9}")
    for batch in (rows[:1], rows[:100]):
        pairs = {
            f"estimator.{method}": (
                lambda b=batch: getattr(fast.estimator, method)(b),
                lambda b=batch: getattr(fast.fast_path, method)(b),
            ),
            "SklearnModel.predict (validated)": (
                lambda b=batch: slow.predict(b),
                lambda b=batch: fast.predict(b),
            ),
        }
        for name, (reference, candidate) in pairs.items():
            ref_best = seconds_per_call(reference, repeat)
            new_best = seconds_per_call(candidate, repeat)
            click.echo(
                f"{name:<34}{len(batch):>5}{ref_best * 1e6:>12.0f} us{new_best * 1e6:>9.0f} us"
                f"{ref_best / new_best:>8.0f}x"
            )
    click.echo("(best of the timings; one process, numpy on the machine's default threads)")


if __name__ == "__main__":
    main()
