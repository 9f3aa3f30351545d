"""SQL per substrate surface: one module each, its statements as constants and its fetch
functions, nothing else."""
