"""The skops allowlist is walked when the model object is built, before gunicorn forks its
workers, so each worker's ``load()`` reads the inherited cache instead of walking it again."""

from __future__ import annotations

from conftest import MODELS_DIR

from wrappers import SklearnModel
from wrappers.core.formats import sklearn_allowlist


def test_constructing_a_skops_model_fills_the_allowlist_cache():
    sklearn_allowlist.cache_clear()
    model = SklearnModel(model_dir=str(MODELS_DIR / "sklearn-iris"))
    assert sklearn_allowlist.cache_info().currsize == 1
    assert not model.ready  # nothing loaded yet: only the allowlist was computed
