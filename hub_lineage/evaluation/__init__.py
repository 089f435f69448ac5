"""How good the predictions are: the cold-start / instance protocols, splits, metrics, synthetic data.
"""
