"""GraphiQL that works offline: our own page over the vendored assets, with a fetcher that
sends subscriptions over the graphql-transport-ws WebSocket of the same ``/graphql``."""

from __future__ import annotations

from functools import cache

__all__ = ["ASSETS", "offline_graphiql_html"]

STATIC_PREFIX = "/static/graphiql/"

# vendored files (server/static/graphiql/, byte-identical to the npm packages)
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "plugin-explorer.umd.js",
)
STYLES = ("graphiql.min.css", "plugin-explorer.css")
ASSETS = (*SCRIPTS, *STYLES)

DEFAULT_QUERY = """# Football Probability Engine: queries, mutations and subscriptions.
# Subscriptions (trainingProgress, trainingEvents) stream over the WebSocket.
# With FPE_API_TOKEN set, add {"Authorization": "Bearer <token>"} under Headers.

{
  leagues { code name teams { name } }
}
"""

# graphiql 3.8.3 bundles @graphiql/toolkit and graphql-ws: ``subscriptionUrl`` makes the
# fetcher open a graphql-transport-ws client (headers go into connection_init), queries
# and mutations stay on HTTP POST.
SCRIPT = """
const httpUrl = location.origin + location.pathname;
const wsUrl = httpUrl.replace(/^http/, "ws");
const params = new URLSearchParams(location.search);
const fetcher = GraphiQL.createFetcher({ url: httpUrl, subscriptionUrl: wsUrl });
const explorer = GraphiQLPluginExplorer.explorerPlugin();
function App() {
  return React.createElement(GraphiQL, {
    fetcher,
    plugins: [explorer],
    defaultQuery: DEFAULT_QUERY,
    query: params.get("q") || undefined,
    variables: params.get("variables") || undefined,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    inputValueDeprecation: true,
  });
}
ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
"""


@cache
def offline_graphiql_html() -> str:
    import json

    styles = "\n".join(f'<link rel="stylesheet" href="{STATIC_PREFIX}{s}">' for s in STYLES)
    scripts = "\n".join(f'<script src="{STATIC_PREFIX}{s}"></script>' for s in SCRIPTS)
    default = json.dumps(DEFAULT_QUERY).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Football Probability Engine</title>
<link rel="icon" href="/static/app/favicon.svg" type="image/svg+xml">
<style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; }}</style>
{styles}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{scripts}
<script>const DEFAULT_QUERY = {default};{SCRIPT}</script>
</body>
</html>
"""
