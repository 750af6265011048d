"""The benchmark runner: sweep specs, executors (local, SLURM), run records, leaderboard and reports."""
