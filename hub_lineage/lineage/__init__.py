"""Where a model comes from: the lineage graph, what cards, tags, configs and merge recipes say
about parents, the Hub client (the only Hub I/O for lineage), and rendering.
"""
