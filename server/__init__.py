"""Adapters around the core: file parsing and the ``fpe`` command line (later: database,
workers, GraphQL and REST)."""

__all__: list[str] = []  # nothing is re-exported: import the modules
