"""GraphQL objects from the service layer's rows: the fields named alike are copied."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["from_row"]

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[str, Any], **given: Any) -> T:
    """``cls`` (a Strawberry type) with each of its data fields that ``row`` has, by name
    (resolvers and other keys are not copied), and ``given`` for the rest or instead; a
    field in neither keeps its default."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row.items() if k in names and k not in given}, **given)
