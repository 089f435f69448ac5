"""Predictions for users: the Predictor (fit, save, load), the lineage neighbourhood of a new model,
intervals, and model-card sections.
"""
