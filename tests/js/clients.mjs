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
  mutation WriteNote($workspaceId: ID!, $content: String!) {
    writeScratchpadEntry(workspaceId: $workspaceId, agentId: "kora", kind: "note", content: $content) {
      __typename
      ... on ScratchpadEntryWritten { entryId createdAt }
      ... on WriteDeferred { deviationId message }
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
  const { writeScratchpadEntry: outcome } = await client.request(WRITE_NOTE, {
    workspaceId: DEMO,
    content: "written by graphql-request",
  });
  switch (outcome.__typename) {
    case "ScratchpadEntryWritten":
      return { written: outcome.entryId };
    case "WriteDeferred":
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
