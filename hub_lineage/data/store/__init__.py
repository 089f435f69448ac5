"""The local training-matrix store: SQLite schema and migrations, ingest, export.
"""
