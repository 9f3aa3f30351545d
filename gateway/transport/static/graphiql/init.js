// Starts GraphiQL on the page served by kora-gateway. Loaded from the gateway itself, like
// React and GraphiQL, so the page works with no internet and a strict Content-Security-Policy.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var endpoint = window.location.pathname;
  var plugins = [];
  if (window.GraphiQLPluginExplorer) {
    plugins.push(window.GraphiQLPluginExplorer.explorerPlugin());
  }
  var props = {
    fetcher: window.GraphiQL.createFetcher({ url: endpoint }),
    defaultQuery: config.defaultQuery,
    plugins: plugins,
    shouldPersistHeaders: false,
    isHeadersEditorEnabled: true
  };
  if (config.headers) {
    props.defaultHeaders = config.headers;
    props.defaultEditorToolsVisibility = "headers";
  }
  var root = window.ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(window.React.createElement(window.GraphiQL, props));
})();
