"""The connections file: typed sections, loading, and the checks `canalis check` runs before anything else."""
