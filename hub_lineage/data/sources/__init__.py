"""Loaders for local data files: one module per format, shared by ingest, evaluate and fit."""
