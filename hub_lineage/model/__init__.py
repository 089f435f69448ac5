"""The estimators: the shared estimator contract (:mod:`~hub_lineage.model.base`), LRMF (with its
fitted factors, fold-in and solvers), the baselines, the method registry, and the item embeddings /
item graph.
"""
