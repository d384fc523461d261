"""The exception tree of the computation core.

::

    FPEError                      base of every error this project raises on purpose
    ├── InvalidInputError         bad data or arguments (also a ValueError)
    │   ├── UnknownTeamError      a team the model has not seen (also a KeyError)
    │   └── ConvergenceError      data that do not identify the model, or a fit that does
    │                             not converge (the message names the cause)
    └── NotFittedError            predict/to_dict before fit (also an AttributeError)
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "FPEError",
    "InvalidInputError",
    "NotFittedError",
    "UnknownTeamError",
]


class FPEError(Exception):
    """Base class of every error the Football Probability Engine raises on purpose."""


class InvalidInputError(FPEError, ValueError):
    """Input data or arguments that cannot be used; the message names the problem."""


class UnknownTeamError(InvalidInputError, KeyError):
    """A team the fitted model has no parameters for."""

    def __init__(self, teams: list[str]) -> None:
        self.teams = teams
        shown = ", ".join(repr(t) for t in teams[:5])
        more = f" and {len(teams) - 5} more" if len(teams) > 5 else ""
        super().__init__(f"unknown team(s) not in the fitted model: {shown}{more}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class ConvergenceError(InvalidInputError):
    """The model cannot be fitted to these data: the maximum likelihood does not exist (for
    example "team 'X' never concedes") or the optimiser did not converge in its iterations.
    A training run that meets it fails with this message; nothing is stored."""


class NotFittedError(FPEError, AttributeError):
    """The estimator has not been fitted yet."""
