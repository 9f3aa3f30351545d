"""Live events: the process's watcher of new chain events, and each subscriber's stream."""
