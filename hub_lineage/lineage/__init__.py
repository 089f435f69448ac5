"""Where a model comes from: the lineage graph and its edges, what cards, tags, configs and merge
recipes say about parents, the Hub client (with :mod:`~hub_lineage.lineage.hub_errors`, through which
every Hub request is retried and its errors translated), and rendering.
"""
