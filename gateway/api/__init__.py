"""The GraphQL schema: Strawberry types and roots, thin (they call ``reads`` and ``writes``)."""
