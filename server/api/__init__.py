"""The web layer and composition root: the Starlette app, the REST shim, GraphiQL, metrics."""

__all__: list[str] = []  # nothing is re-exported: import the modules
