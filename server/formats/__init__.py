"""File formats: football-data.co.uk results and fixtures, league codes."""

__all__: list[str] = []  # nothing is re-exported: import the modules
