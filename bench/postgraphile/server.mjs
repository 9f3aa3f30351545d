// PostGraphile v5 against the bench substrate, as the same reader role as the gateway.
// Started by bench/postgraphile.py: DATABASE_URL, PORT, POOL_SIZE, WORKERS from the environment.
// WORKERS above 1: that many processes on one port, with Node's cluster module.
// A request's X-Workspace-Id header becomes the RLS setting (set_config in PostGraphile's own
// transaction), as the gateway's RLS transaction does; without the header no setting is made.
// PostGraphile 5.1 uses Promise.withResolvers (Node 22+); Debian's Node 20 lacks it.
Promise.withResolvers ??= function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const cluster = (await import("node:cluster")).default;
const workers = Number(process.env.WORKERS || 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
      setTimeout(() => process.exit(0), 2000).unref();
      cluster.on("exit", () => {
        if (Object.keys(cluster.workers).length === 0) process.exit(0);
      });
    });
  }
} else {
  await serve();
}

async function serve() {
  const { createServer } = await import("node:http");
  const { postgraphile } = await import("postgraphile");
  const { makePgService } = await import("postgraphile/adaptors/pg");
  const { grafserv } = await import("postgraphile/grafserv/node");
  const { PostGraphileAmberPreset } = await import("postgraphile/presets/amber");

  const port = Number(process.env.PORT);
  const preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [
      makePgService({
        connectionString: process.env.DATABASE_URL,
        schemas: ["hivex_foundation", "kronicle", "bench_pgl"],
        poolConfig: { max: Number(process.env.POOL_SIZE || 10) },
      }),
    ],
    grafast: {
      explain: false,
      context(requestContext) {
        const workspace = requestContext.node?.req?.headers["x-workspace-id"];
        return workspace ? { pgSettings: { "app.workspace_id": String(workspace) } } : {};
      },
    },
    grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
    schema: { exportSchemaSDLPath: undefined },
  };

  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.on("error", (e) => { console.error(e); process.exit(1); });
  serv.addTo(server).then(() => {
    server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on ${port}`));
  });
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => { server.close(); pgl.release().finally(() => process.exit(0)); });
  }
}
