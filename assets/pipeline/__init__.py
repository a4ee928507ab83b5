"""The steps assets run: ingest raw records, map them to canonical records, unify customers."""
