"""Modules imported on first use.

``lazy("pandas")`` is a stand-in whose first attribute access imports pandas (the import
system's locks make that thread-safe); later accesses pass through.  The modules that fit
models use pandas, but predicting with a stored model does not, and pandas takes a third
of a second to import: ``fpe predict`` should not pay for it.  Modules take pandas from
here, ``from core.lazy import pandas as pd``, and type checkers see the real module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["lazy", "pandas"]


class _LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on first use."""
    return _LazyModule(name)


if TYPE_CHECKING:
    import pandas
else:
    pandas = lazy("pandas")
