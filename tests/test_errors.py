"""The FPEError tree: every class carries a code and an HTTP status, the mapping walks the
MRO, the tree documented in ``core.errors`` is the real one, and every ``__all__`` is true."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import core
import schema
import server
from core import errors
from core.errors import FPEError, InvalidInputError, error_code

PACKAGES = [core, schema, server]
MODULES = sorted(
    {p.__name__ for p in PACKAGES}
    | {
        m.name
        for p in PACKAGES
        for m in pkgutil.walk_packages(p.__path__, prefix=f"{p.__name__}.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    }
)
# adapters whose public surface is one name (``routes``) and whose handlers are reached
# through it; only "every name exists" is checked there
ROUTE_TABLES = {
    "server.api.rest",
    "server.api.jackpots",
    "server.api.login",
    "server.api.datapages",
}
CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "SERVICE_UNAVAILABLE",
    "BAD_GATEWAY",
    "INTERNAL_SERVER_ERROR",
}


def _tree() -> list[type[FPEError]]:
    for name in MODULES:
        importlib.import_module(name)
    seen: list[type[FPEError]] = []
    todo = [FPEError]
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] in {"core", "schema", "server"}:  # not tests' own
            seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


@pytest.mark.parametrize("cls", _tree(), ids=lambda c: c.__qualname__)
def test_every_class_maps_to_a_code(cls):
    exc = cls.__new__(cls)
    code, status = error_code(exc)
    assert code in CODES and (code, status) == (cls.code, cls.http_status)
    assert 400 <= status < 600
    assert (status < 500) == (code in {"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT"})


def test_the_mapping_walks_the_mro_not_isinstance_order():
    class Late(InvalidInputError):  # declares nothing: inherits BAD_USER_INPUT
        pass

    class Missing(Late):
        code = "NOT_FOUND"
        http_status = 404

    class Both(Missing, Late):
        pass

    assert error_code(Late("x")) == ("BAD_USER_INPUT", 422)
    assert error_code(Both("x")) == ("NOT_FOUND", 404)
    assert error_code(ValueError("x")) == ("INTERNAL_SERVER_ERROR", 500)
    assert error_code(KeyError("x")) == ("INTERNAL_SERVER_ERROR", 500)


def test_errors_are_also_the_builtin_exceptions_callers_catch():
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.UnknownTeamError, KeyError)
    assert issubclass(errors.NotFittedError, AttributeError)
    assert str(errors.UnknownTeamError(["X"])) == "unknown team(s) not in the fitted model: 'X'"


def test_the_documented_tree_is_the_real_one():
    """Every class of the tree is in the docstring of core.errors with its code and status,
    under the parent it really has."""
    documented: dict[str, tuple[str, int, int]] = {}
    for line in errors.__doc__.splitlines():
        m = re.match(r"^\s*([│├└─\s]*)([\w.]+)\s+([A-Z_]+)\s+(\d{3})\b", line)
        if m:
            name = m.group(2).rsplit(".", 1)[-1]
            documented[name] = (m.group(3), int(m.group(4)), len(m.group(1)))
    tree = _tree()
    assert set(documented) == {c.__name__ for c in tree}
    for cls in tree:
        code, status, indent = documented[cls.__name__]
        assert (code, status) == (cls.code, cls.http_status), cls
        if cls is not FPEError:
            parent = next(b for b in cls.__mro__[1:] if issubclass(b, FPEError))
            assert documented[parent.__name__][2] < indent, cls


@pytest.mark.parametrize("name", MODULES)
def test_all_is_true(name):
    """Every name in ``__all__`` exists, and every public class or function the module
    defines is listed."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    if name not in ROUTE_TABLES:
        missing = sorted(defined - set(exported))
        assert not missing, f"{name} does not list {missing}"
