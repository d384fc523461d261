"""A run's phase in words: what the page, the REST shim and GraphQL's ``phaseText`` show
instead of the internal name (``dixon_coles`` is "Fitting Dixon-Coles")."""

from __future__ import annotations

__all__ = ["PHASES", "phase_text"]

PHASES = {
    "queued": "Waiting for a worker",
    "starting": "Loading matches",
    "dixon_coles": "Fitting Dixon-Coles",
    "fit": "Fitting the final goal model",
    "blending": "Blending with the market",
    "calibration": "Calibrating probabilities",
    "draw": "Fitting the draw model",
    "evaluating": "Scoring the validation period",
    "done": "Completed",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def phase_text(phase: str | None) -> str | None:
    """The phase in words; one without a name reads as its words (``pool_weights`` is
    "Pool weights")."""
    if phase is None:
        return None
    return PHASES.get(phase, phase.replace("_", " ").capitalize())
