// Compiled beside the README's fragments: a node refetched by its global id.
import { graphql } from "relay-runtime";

export const NodeRefetch = graphql`
  query NodeRefetchQuery($id: ID!) {
    node(id: $id) { id ... on ChainEvent { eventId eventType } }
  }
`;
