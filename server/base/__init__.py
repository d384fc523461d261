"""Leaves every layer may use: settings, the bearer token, the NUL rule."""

__all__: list[str] = []  # nothing is re-exported: import the modules
