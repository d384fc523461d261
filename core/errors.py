"""Every error the Football Probability Engine raises on purpose, and its API code.

Each class carries ``code`` (GraphQL ``extensions.code``, the REST ``error.code``) and
``http_status`` (the REST shim's status). :func:`error_code` finds them by walking the
exception's class hierarchy (its MRO), as Starlette's exception handlers do, so a subclass
inherits its parent's code unless it declares its own, whatever order anyone checks in.

The whole tree (classes outside ``core`` live beside the code that raises them)::

    class                                  code                   HTTP  meaning
    FPEError                               INTERNAL_SERVER_ERROR  500   base of them all
    ├── InvalidInputError                  BAD_USER_INPUT         422   bad data (a ValueError)
    │   ├── UnknownTeamError               BAD_USER_INPUT         422   team not in the model
    │   ├── ConvergenceError               BAD_USER_INPUT         422   data do not identify the
    │   │                                                               model, or no convergence
    │   ├── selection.SelectionError       BAD_USER_INPUT         422   match selection (``field``)
    │   │   └── runconfig.ValidationError  BAD_USER_INPUT         422   run config (``field``)
    │   │       └── training.IdempotencyConflictError  BAD_USER_INPUT  422  a key reused
    │   ├── NotFoundError                  NOT_FOUND              404   nothing has that id
    │   │   ├── training.RunNotFoundError  NOT_FOUND              404   no run has that task id
    │   │   ├── modelerrors.ModelNotFoundError  NOT_FOUND         404   no such model version
    │   │   │   └── scope.NoModelForLeagueError  NOT_FOUND        404   no active model covers
    │   │   │                                                           the fixture's league
    │   │   ├── jackpots.JackpotNotFoundError  NOT_FOUND          404   no such jackpot, saved
    │   │   │                                                           result or template
    │   │   └── teams.AliasNotFoundError   NOT_FOUND              404   no alias has that name
    │   ├── modelfiles.ModelFileError      BAD_USER_INPUT         422   a model file that cannot
    │   │                                                               be imported
    │   ├── predictions.TeamLookupError    BAD_USER_INPUT         422   no or several teams
    │   ├── teamnames.TeamNameError        BAD_USER_INPUT         422   a look-alike team name
    │   ├── source.SourceError             BAD_USER_INPUT         422   not a regular file, too
    │   │                                                               large, unreadable
    │   └── footballdata.FootballDataError BAD_USER_INPUT         422   an unreadable data file
    ├── NotFittedError                     INTERNAL_SERVER_ERROR  500   predict before fit
    ├── registry.ConflictError             CONFLICT               409   lost a race; retry
    ├── modelfiles.VersionExistsError      CONFLICT               409   an import never overwrites
    ├── registry.UnusableModelError        INTERNAL_SERVER_ERROR  500   a fit not fit to store
    ├── runner.ResultNotStoredError        SERVICE_UNAVAILABLE    503   result not stored
    ├── predictions.EvaluationBusyError    SERVICE_UNAVAILABLE    503   an evaluation is running
    ├── queue.QueueUnavailableError        SERVICE_UNAVAILABLE    503   Redis is unreachable
    ├── db.DatabaseError                   SERVICE_UNAVAILABLE    503   database unusable
    ├── migrations.MigrationError          SERVICE_UNAVAILABLE    503   schema not up to date
    ├── download.DownloadError             BAD_GATEWAY            502   a file was not fetched
    └── config.ConfigError                 INTERNAL_SERVER_ERROR  500   a bad setting

(``training.X`` is ``server.runs.training.X``, ``db.X`` is ``server.store.db.X``, and so on.)
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "FPEError",
    "InvalidInputError",
    "NotFittedError",
    "NotFoundError",
    "UnknownTeamError",
    "error_code",
]


class FPEError(Exception):
    """Base class of every error the Football Probability Engine raises on purpose."""

    code: str = "INTERNAL_SERVER_ERROR"
    http_status: int = 500


class InvalidInputError(FPEError, ValueError):
    """Input data or arguments that cannot be used; the message names the problem."""

    code = "BAD_USER_INPUT"
    http_status = 422


class UnknownTeamError(InvalidInputError, KeyError):
    """A team the fitted model has no parameters for."""

    def __init__(self, teams: list[str]) -> None:
        self.teams = teams
        shown = ", ".join(repr(t) for t in teams[:5])
        more = f" and {len(teams) - 5} more" if len(teams) > 5 else ""
        super().__init__(f"unknown team(s) not in the fitted model: {shown}{more}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class NotFoundError(InvalidInputError):
    """Nothing has the id or name asked for; the message names it."""

    code = "NOT_FOUND"
    http_status = 404


class ConvergenceError(InvalidInputError):
    """The model cannot be fitted to these data: the maximum likelihood does not exist (for
    example "team 'X' never concedes") or the optimiser did not converge in its iterations.
    A training run that meets it fails with this message; nothing is stored."""


class NotFittedError(FPEError, AttributeError):
    """The estimator has not been fitted yet."""


def error_code(exc: BaseException) -> tuple[str, int]:
    """``(code, http_status)`` of an exception: the first class in its MRO that declares a
    code; anything that is not an :class:`FPEError` is ``INTERNAL_SERVER_ERROR``, 500."""
    for cls in type(exc).__mro__:
        if issubclass(cls, FPEError) and "code" in vars(cls):
            return cls.code, cls.http_status
    return "INTERNAL_SERVER_ERROR", 500
