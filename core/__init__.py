"""Pure computation: the Dixon-Coles estimator, markets, metrics, odds and backtests.

The names below are imported on first use (PEP 562), so that ``import core.errors`` or
``core.odds`` does not load pandas and SciPy's optimisers: ``fpe price`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.dixon_coles import DixonColes, Poisson, decay_weights
    from core.errors import (
        ConvergenceError,
        FPEError,
        InvalidInputError,
        NotFittedError,
        UnknownTeamError,
    )
    from core.markets import MatchProbabilities, Settlement, score_grid
    from core.pricing import fit_grid, price

_WHERE = {
    "DixonColes": "core.dixon_coles",
    "Poisson": "core.dixon_coles",
    "decay_weights": "core.dixon_coles",
    "ConvergenceError": "core.errors",
    "FPEError": "core.errors",
    "InvalidInputError": "core.errors",
    "NotFittedError": "core.errors",
    "UnknownTeamError": "core.errors",
    "MatchProbabilities": "core.markets",
    "Settlement": "core.markets",
    "score_grid": "core.markets",
    "fit_grid": "core.pricing",
    "price": "core.pricing",
}

__all__ = [
    "ConvergenceError",
    "DixonColes",
    "FPEError",
    "InvalidInputError",
    "MatchProbabilities",
    "NotFittedError",
    "Poisson",
    "Settlement",
    "UnknownTeamError",
    "decay_weights",
    "fit_grid",
    "price",
    "score_grid",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
