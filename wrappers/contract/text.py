"""A text input: a batch of strings, as a text vectorizer's pipeline takes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wrappers.errors import InvalidInput


class TextSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["text"] = "text"
    name: str = Field(min_length=1)
    max_length: int = Field(default=100_000, ge=1)

    def check(self, texts: list[object]) -> list[str]:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(
                    f"{self.name}: expected a string in row {i}, got {type(text).__name__}"
                )
            if len(text) > self.max_length:
                raise InvalidInput(
                    f"{self.name}: row {i} has {len(text)} characters, more than the "
                    f"{self.max_length} allowed"
                )
        return texts  # type: ignore[return-value]
