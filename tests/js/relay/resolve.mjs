// What a bundler does for Relay's artifacts, for plain Node: they import each other without a
// file extension ('./FeedPaginationQuery.graphql'); resolve such an import to its '.js' file.
// Used as `node --import ./relay/register.mjs run.mjs`.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !specifier.startsWith(".")) throw error;
    return next(`${specifier}.js`, context);
  }
}
