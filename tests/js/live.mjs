// Live events over plain HTTP with real clients: graphql-sse (distinct connections, SSE), urql
// with fetchSubscriptions (SSE), Apollo Client 4 and 3 (HttpLink, multipart). Each subscribes to
// the workspace after the cursor given and collects `count` events (the test appends them), then
// unsubscribes. Prints {client: [eventId, ...]}.
// Usage: node live.mjs http://127.0.0.1:8000/graphql <workspace> <after cursor> <count>
const [url, ws, after, countText] = process.argv.slice(2);
// urql's unsubscribe aborts its streaming fetch and Node reports the abort as an unhandled
// rejection (browsers only log it): expected here, anything else still fails the run.
process.on("unhandledRejection", (reason) => {
  if (reason?.name !== "AbortError") throw reason;
});
const count = Number(countText);
const FEED = `subscription Feed($ws: ID!, $after: String) {
  workspaceEvents(workspaceId: $ws, after: $after) { id eventId eventType cursor } }`;
const variables = { ws, after };

function collect(name, start) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => reject(new Error(`${name}: ${seen.length} of ${count}`)), 20000);
    let stop = () => {};
    stop = start({
      next(result) {
        if (result.errors) return reject(new Error(`${name}: ${JSON.stringify(result.errors)}`));
        seen.push(result.data.workspaceEvents.eventId);
        if (seen.length === count) {
          clearTimeout(timer);
          stop();
          resolve(seen);
        }
      },
      error: (error) => reject(new Error(`${name}: ${error}`)),
    });
  });
}

async function sse() {
  const { createClient } = await import("graphql-sse");
  const client = createClient({ url, retryAttempts: 0 });
  return collect("graphql-sse", (sink) =>
    client.subscribe({ query: FEED, variables }, { ...sink, complete() {} }),
  );
}

async function urql() {
  const { Client, fetchExchange, gql } = await import("@urql/core");
  const client = new Client({ url, exchanges: [fetchExchange], fetchSubscriptions: true });
  return collect("urql", (sink) => {
    const subscription = client.subscription(gql(FEED), variables).subscribe((result) => {
      if (result.error) sink.error(result.error);
      else sink.next(result);
    });
    return () => subscription.unsubscribe();
  });
}

async function apollo(module, linkModule) {
  const { ApolloClient, InMemoryCache, gql } = await import(module);
  const { HttpLink } = await import(linkModule);
  const client = new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache() });
  return collect(module, (sink) => {
    const subscription = client.subscribe({ query: gql(FEED), variables }).subscribe(sink);
    return () => subscription.unsubscribe();
  });
}

const report = Object.fromEntries(
  await Promise.all(
    Object.entries({
      "graphql-sse": sse,
      urql,
      apollo4: () => apollo("@apollo/client", "@apollo/client/link/http"),
      apollo3: () =>
        apollo("apollo-client-3/core/index.js", "apollo-client-3/link/http/index.js"),
    }).map(async ([name, run]) => [name, await run()]),
  ),
);
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
