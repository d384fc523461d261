"""The database: engines, migrations, tables, ingestion, downloads, look-ups."""

__all__: list[str] = []  # nothing is re-exported: import the modules
