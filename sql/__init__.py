"""The database schema as reviewable SQL: ``postgresql/NNNN_name.sql`` (production) and
``sqlite/NNNN_name.sql`` (the embedded default), applied in order by ``fpe db upgrade`` and
recorded in ``schema_migrations``.  Both dialects describe the same tables; a test reflects
each and proves it matches the ORM in ``server/tables.py``."""
