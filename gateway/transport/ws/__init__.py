"""GraphQL over WebSocket at ``/graphql``: the graphql-transport-ws protocol."""
