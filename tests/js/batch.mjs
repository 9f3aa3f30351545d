// Apollo's BatchHttpLink against the gateway, which refuses batched requests by design: prints
// the error the link reports. Usage: node batch.mjs http://127.0.0.1:8000/graphql
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";

const client = new ApolloClient({
  link: new BatchHttpLink({ uri: process.argv[2], batchMax: 2, batchInterval: 20 }),
  cache: new InMemoryCache(),
});
const ask = (n) =>
  client
    .query({ query: gql`query Q${n} { workspace(id: "org_2fXkKoraDemo01") { id } }` })
    .then(() => "ok", (error) => error.message);
process.stdout.write(JSON.stringify(await Promise.all([ask(1), ask(2)])) + "\n");
