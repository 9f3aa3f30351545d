// Relay against the gateway: the README's fragments and environment, compiled by relay-compiler
// (tests/test_frontends.py does it in tests/js/build/relay), paged and refetched by relay-runtime.
// Prints what the store holds after each step.
// Usage (in the build directory): node run.mjs <workspace id>
import { createOperationDescriptor, fetchQuery, getSelector } from "relay-runtime";
import AppQuery from "./src/__generated__/AppQuery.graphql.js";
import FeedPaginationQuery from "./src/__generated__/FeedPaginationQuery.graphql.js";
import FeedFragment from "./src/__generated__/Feed_workspace.graphql.js";
import NodeRefetchQuery from "./src/__generated__/NodeRefetchQuery.graphql.js";
import { environment } from "./src/environment.js";

const id = process.argv[2];
const app = createOperationDescriptor(AppQuery, { id });
environment.retain(app);
await fetchQuery(environment, AppQuery, { id }).toPromise();
const root = environment.lookup(app.fragment).data;
const feed = () => environment.lookup(getSelector(FeedFragment, root.workspace)).data;
const nodes = () => feed().eventHistory.edges.map((edge) => edge.node);

const firstPage = nodes();
const { endCursor, hasNextPage } = feed().eventHistory.pageInfo;
// The next page, as usePaginationFragment's loadNext(5) asks for it: the refetchable query.
const page = { count: 5, cursor: endCursor, id };
environment.retain(createOperationDescriptor(FeedPaginationQuery, page));
await fetchQuery(environment, FeedPaginationQuery, page).toPromise();
const merged = nodes();

// A node refetched by its global id lands on the same record of the store.
const first = merged[0];
const again = await fetchQuery(environment, NodeRefetchQuery, { id: first.id }).toPromise();
process.stdout.write(
  JSON.stringify({
    displayName: feed().displayName,
    firstPage: firstPage.map((n) => n.eventId),
    hasNextPage,
    merged: merged.map((n) => n.eventId),
    refetched: again.node,
    firstNode: first,
  }) + "\n",
);
