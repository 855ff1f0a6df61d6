"""A Seldon user class that returns its input: the ceiling of Seldon's own request path."""

from typing import Any


class Echo:
    def predict(self, X: Any, features_names: list[str] | None = None, **kwargs: Any) -> Any:
        return X
