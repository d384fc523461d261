"""Adapters around the core: file parsing, the database, workers, GraphQL, REST and the
``fpe`` command line."""

from __future__ import annotations

__all__ = ["__version__"]  # nothing else is re-exported: import the modules


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importlib.metadata
    costs a fast command more than the rest of its start-up)."""
    if name != "__version__":
        raise AttributeError(f"module 'server' has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("football-probability-engine")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version
