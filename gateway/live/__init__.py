"""Live subscriptions over WebSocket: the graphql-transport-ws endpoint and the watcher."""
