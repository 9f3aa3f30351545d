// Client caches against the gateway, with their default settings: Apollo Client 4 and 3 with a
// default InMemoryCache, urql's graphcache given the schema and no `keys`. Each runs every query
// of the JSON file given (the README's) on one cache and reports the warnings it printed; a
// control query that must warn proves the warnings are heard.
// Usage: node caches.mjs http://127.0.0.1:8000/graphql queries.json schema.graphql
import { readFileSync } from "node:fs";

globalThis.__DEV__ = true; // Apollo Client 4 prints its warnings only in development mode

const [url, queriesPath, schemaPath] = process.argv.slice(2);
const queries = JSON.parse(readFileSync(queriesPath, "utf8"));
const DEMO = "org_2fXkKoraDemo01";
// A charter without its id, asked twice with other fields: an unnormalised object replaced.
const CONTROL = [
  `query C1 { workspace(id: "${DEMO}") { id roleCharter { title } } }`,
  `query C2 { workspace(id: "${DEMO}") { id roleCharter { version } } }`,
];

const heard = [];
for (const level of ["warn", "error"]) {
  console[level] = (...args) => heard.push(args.map(String).join(" "));
}

async function listen(run) {
  heard.length = 0;
  const failures = [];
  await run(failures);
  return { warnings: [...heard], failures };
}

async function apollo(module, dev, documents) {
  const { ApolloClient, HttpLink, InMemoryCache, gql } = await import(module);
  const { loadDevMessages, loadErrorMessages } = await import(dev);
  loadDevMessages();
  loadErrorMessages();
  const client = new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache() });
  return listen(async (failures) => {
    for (const { query, variables } of documents) {
      const result = await client.query({ query: gql(query), variables, errorPolicy: "all" });
      if (result.data === undefined) failures.push(query);
    }
  });
}

async function graphcache(documents) {
  const { Client, fetchExchange, gql } = await import("@urql/core");
  const { cacheExchange } = await import("@urql/exchange-graphcache");
  const { buildSchema, introspectionFromSchema } = await import("graphql");
  const schema = introspectionFromSchema(buildSchema(readFileSync(schemaPath, "utf8")));
  const client = new Client({ url, exchanges: [cacheExchange({ schema }), fetchExchange] });
  return listen(async (failures) => {
    for (const { query, variables } of documents) {
      const result = await client.query(gql(query), variables).toPromise();
      if (result.data === undefined || result.data === null) failures.push(query);
    }
  });
}

const controls = CONTROL.map((query) => ({ query, variables: {} }));
const report = {
  apollo4: await apollo("@apollo/client", "@apollo/client/dev", queries),
  apollo4Control: await apollo("@apollo/client", "@apollo/client/dev", controls),
  apollo3: await apollo("apollo-client-3/core/index.js", "apollo-client-3/dev/index.js", queries),
  apollo3Control: await apollo(
    "apollo-client-3/core/index.js",
    "apollo-client-3/dev/index.js",
    controls,
  ),
  graphcache: await graphcache(queries),
  graphcacheControl: await graphcache(controls.slice(0, 1)),
};
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
