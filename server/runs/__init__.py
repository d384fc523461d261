"""Training runs and the services on them: configuration, queue, worker, registry, predictions."""

__all__: list[str] = []  # nothing is re-exported: import the modules
