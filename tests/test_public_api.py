"""The public surface of core: __all__ is importable and the exception tree holds."""

from __future__ import annotations

import importlib

import pytest

import core
from core import errors

MODULES = [
    "core",
    "core.metrics",
    "core.odds",
    "core.markets",
    "core.pricing",
    "core.backtest",
    "core.evaluation",
    "core.market_model",
    "core.pool",
    "core.forecast",
    "core.pipeline",
    "core.errors",
    "server.formats.footballdata",
    "server.runs.events",
    "server.runs.queue",
    "server.runs.registry",
    "server.runs.runconfig",
    "server.runs.runner",
    "server.runs.runstate",
    "server.runs.selection",
    "server.runs.serialize",
    "server.runs.services",
    "server.runs.training",
    "server.runs.worker",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_core_exports():
    assert set(core.__all__) == {
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
    }


def test_exception_tree():
    assert issubclass(errors.InvalidInputError, errors.FPEError)
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.UnknownTeamError, errors.InvalidInputError)
    assert issubclass(errors.UnknownTeamError, KeyError)
    assert issubclass(errors.NotFittedError, AttributeError)
    assert issubclass(errors.ConvergenceError, errors.InvalidInputError)
    assert str(errors.UnknownTeamError(["X"])) == "unknown team(s) not in the fitted model: 'X'"
