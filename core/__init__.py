"""Pure computation: the Dixon-Coles estimator, markets, metrics, odds and backtests."""

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
