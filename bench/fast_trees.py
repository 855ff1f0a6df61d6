"""Latency of scikit-learn vs the numpy tree evaluator on a model directory (in-process).

    .venv/bin/python bench/fast_trees.py [--model-dir models/sklearn-iris]

Times ``predict_proba`` on one row and on a 100-row batch, for the bare estimator and through
the served wrapper (validation included) with ``fast_trees`` on and off, after checking that
both give identical outputs on 2,000 rows; then the same for other supported models fitted
here on scikit-learn's bundled data sets.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor

from wrappers import SklearnModel
from wrappers.frameworks.sklearn.fast_trees import FastPredictor, compile_estimator

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_call(call: Callable[[], object], repeat: int) -> float:
    """Best seconds per call over ``repeat`` timings of an auto-sized loop (least disturbed)."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def sample_rows(model: SklearnModel, count: int) -> np.ndarray:
    """Rows spread around the golden inputs, as real requests would be."""
    name = model.manifest.input_names[0]
    golden = np.vstack([np.asarray(p.input[name], dtype=np.float64) for p in model.manifest.golden])
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
    method, predictor = fast.method, fast.fast_path
    rows = sample_rows(fast, 2_000)
    check_identical(fast.manifest.name, predictor, rows)
    click.echo(f"{'call':<52}{'rows':>5}{'scikit-learn':>15}{'fast path':>12}{'ratio':>9}")
    for batch in (rows[:1], rows[:100]):
        handled = predictor.handles(batch)
        report(
            f"sklearn-iris estimator.{method}",
            batch,
            lambda b=batch: getattr(fast.estimator, method)(b),
            lambda b=batch: getattr(predictor, method)(b),
            handled,
            repeat,
        )
        report(
            "sklearn-iris SklearnModel.predict (validated)",
            batch,
            lambda b=batch: slow.predict(b),
            lambda b=batch: fast.predict(b),
            handled,
            repeat,
        )
    for name, estimator, X in other_models():
        predictor = compile_estimator(estimator)
        if predictor is None:
            raise click.ClickException(f"{name} has no fast tree path")
        rows = X[np.random.default_rng(1).integers(0, len(X), 2_000)]
        check_identical(name, predictor, rows)
        for method in sorted(predictor.methods):
            fast_call, slow_call = getattr(predictor, method), getattr(estimator, method)
            for batch in (rows[:1], rows[:100]):
                report(
                    f"{name} {method}",
                    batch,
                    lambda b=batch, f=slow_call: f(b),
                    lambda b=batch, f=fast_call: f(b),
                    predictor.handles(batch),
                    repeat,
                )
    click.echo("best of the timings, one process; * = above max_rows, passed to scikit-learn")


def check_identical(name: str, predictor: FastPredictor, rows: np.ndarray) -> None:
    """Every method's output on all rows, computed by the fast path, equals scikit-learn's."""
    unlimited = predictor.unlimited()
    for method in sorted(predictor.methods):
        if not np.array_equal(
            getattr(unlimited, method)(rows), getattr(predictor.estimator, method)(rows)
        ):
            raise click.ClickException(f"{name} {method} differs from scikit-learn")
    click.echo(
        f"{name}: {type(predictor.estimator).__name__}, {predictor.n_trees} trees, depth "
        f"{predictor.depth}, max_rows {predictor.max_rows}; {', '.join(sorted(predictor.methods))}"
        f" identical on {len(rows)} rows"
    )


def report(
    name: str,
    batch: np.ndarray,
    reference: Callable[[], object],
    candidate: Callable[[], object],
    handled: bool,
    repeat: int,
) -> None:
    ref_best = seconds_per_call(reference, repeat)
    new_best = seconds_per_call(candidate, repeat)
    mark = " " if handled else "*"
    click.echo(
        f"{name:<52}{len(batch):>5}{ref_best * 1e6:>12.0f} us{new_best * 1e6:>9.0f} us{mark}"
        f"{ref_best / new_best:>7.0f}x"
    )


def other_models() -> list[tuple[str, object, np.ndarray]]:
    """Supported model kinds other than the repository's, each with its training inputs."""
    iris, diabetes = load_iris(return_X_y=True), load_diabetes(return_X_y=True)
    boosting = GradientBoostingClassifier(random_state=0).fit(*iris)
    forest = RandomForestRegressor(random_state=0).fit(*diabetes)
    return [
        ("GradientBoostingClassifier (iris)", boosting, iris[0]),
        ("RandomForestRegressor (diabetes)", forest, diabetes[0]),
    ]


if __name__ == "__main__":
    main()
