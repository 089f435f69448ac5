"""The estimators: LRMF (with its fitted factors, fold-in and solvers), the baselines, the method
registry, and the item embeddings / item graph.
"""
