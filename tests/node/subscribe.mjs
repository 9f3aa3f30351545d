// Subscribes to workspaceEvents with the graphql-ws client and prints each event as a JSON line.
// Usage: node subscribe.mjs <ws-url> <workspace-id> <after-cursor> <count>
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, workspaceId, after, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: "Bearer node-client" },
  retryAttempts: 0,
});
const query = `subscription Feed($ws: ID!, $after: String) {
  workspaceEvents(workspaceId: $ws, after: $after) { eventId eventType cursor }
}`;
let received = 0;
try {
  for await (const result of client.iterate({ query, variables: { ws: workspaceId, after } })) {
    if (result.errors) {
      console.log(JSON.stringify({ errors: result.errors }));
      process.exitCode = 1;
      break;
    }
    console.log(JSON.stringify(result.data.workspaceEvents));
    received += 1;
    if (received >= Number(count)) break;
  }
} catch (error) {
  console.log(JSON.stringify({ failed: String(error?.reason ?? error) }));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
