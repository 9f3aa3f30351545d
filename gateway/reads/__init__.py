"""What a request reads: its context and loaders, and the values assembled from the surfaces
(session context, prompt block, chain check, cursors, prefetches)."""
