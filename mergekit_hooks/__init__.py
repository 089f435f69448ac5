"""mergekit side of hub-lineage: recipe -> hypothetical lineage node -> predicted scores; gate."""
