"""What speaks HTTP and WebSocket: the ``/graphql`` endpoint, in-flight admission, GraphiQL and
its files, the small routes, and ``ws/`` (graphql-transport-ws)."""
