"""The error of a model version that is not there, raised by the registry
(:mod:`server.runs.registry`) and by the look-ups that choose a model
(:mod:`server.runs.scope`): in a module of its own so that the prediction path's look-ups
import no SQLAlchemy (:mod:`server.store.lite`)."""

from __future__ import annotations

from core.errors import NotFoundError

__all__ = ["ModelNotFoundError"]


class ModelNotFoundError(NotFoundError):
    """No model has that version."""
