"""The error of a model version that is not there, raised by the registry
(:mod:`server.runs.registry`, which re-exports it) and by the look-ups that choose a model
(:mod:`server.runs.scope`): in a module of its own so that the prediction path's look-ups
import no SQLAlchemy (:mod:`server.store.lite`)."""

from __future__ import annotations

from core.errors import InvalidInputError

__all__ = ["ModelNotFoundError"]


class ModelNotFoundError(InvalidInputError):
    """No model has that version."""

    code = "NOT_FOUND"
    http_status = 404
