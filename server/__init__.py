"""Adapters around the core: file parsing, the database, workers, GraphQL, REST and the
``fpe`` command line."""

from importlib import metadata

try:
    __version__ = metadata.version("football-probability-engine")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]  # nothing else is re-exported: import the modules
