"""Adapters around the core: file parsing and the ``fpe`` command line (later: database,
workers, GraphQL and REST)."""
