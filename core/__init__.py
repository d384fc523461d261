"""Pure computation: the Dixon-Coles estimator, markets, metrics, odds and backtests."""

from core.dixon_coles import DixonColes, Poisson, decay_weights
from core.errors import (
    FPEError,
    InvalidInputError,
    NotFittedError,
    UnknownTeamError,
)
from core.markets import MatchProbabilities, Settlement, score_grid

__all__ = [
    "DixonColes",
    "FPEError",
    "InvalidInputError",
    "MatchProbabilities",
    "NotFittedError",
    "Poisson",
    "Settlement",
    "UnknownTeamError",
    "decay_weights",
    "score_grid",
]
