// A JavaScript client of the gateway, written as users write one: graphql-request from npm, run
// with Node.js. Prints one JSON object with what each scenario saw; tests/test_clients.py checks it.
// Usage: node clients.mjs http://127.0.0.1:8000/graphql
import { ClientError, GraphQLClient, gql } from "graphql-request";

const DEMO = "org_2fXkKoraDemo01";
const client = new GraphQLClient(process.argv[2], {
  headers: { authorization: "Bearer demo" },
});

const WORKSPACE = gql`
  {
    workspace(id: "org_2fXkKoraDemo01") {
      displayName
      capabilityRow { grantedCount deniedCount }
    }
  }
`;

const EVENTS = gql`
  query Events($id: ID!, $limit: Int!) {
    workspace(id: $id) {
      events(limit: $limit) { eventType occurredAt }
    }
  }
`;

const MUTATION_TYPE = gql`
  { __schema { mutationType { name } } }
`;

// The deferred scratchpad write; see tests/test_clients.py for the same document in Python.
const WRITE_NOTE = gql`
  mutation WriteNote($input: WriteScratchpadInput!) {
    writeScratchpad(input: $input) {
      __typename
      ... on ScratchpadEntry { entryId createdAt }
      ... on DeferredError { deviationId message }
    }
  }
`;

async function failure(run) {
  try {
    await run();
    return { raised: false };
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    return {
      raised: true,
      status: error.response.status,
      codes: (error.response.errors ?? []).map((e) => e.extensions?.code),
      messages: (error.response.errors ?? []).map((e) => e.message),
    };
  }
}

async function mutation() {
  const { __schema } = await client.request(MUTATION_TYPE);
  if (__schema.mutationType === null) {
    return { skipped: "the schema has no Mutation type" };
  }
  const { writeScratchpad: outcome } = await client.request(WRITE_NOTE, {
    input: {
      workspaceId: DEMO,
      kind: "note",
      content: "written by graphql-request",
      idempotencyKey: `js-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    },
  });
  switch (outcome.__typename) {
    case "ScratchpadEntry":
      return { written: outcome.entryId };
    case "DeferredError":
      return { deferred: outcome.deviationId, message: outcome.message };
    default:
      throw new Error(`unexpected outcome ${outcome.__typename}`);
  }
}

const report = {
  query: await client.request(WORKSPACE),
  variables: await client.request(EVENTS, { id: DEMO, limit: 2 }),
  badArgument: await failure(() => client.request(EVENTS, { id: DEMO, limit: 100000 })),
  invalid: await failure(() => client.request(gql`{ workspace(id: "x") { nope } }`)),
  mutation: await mutation(),
};
process.stdout.write(JSON.stringify(report) + "\n");
