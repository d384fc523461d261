"""GraphiQL that works offline: strawberry's page with every unpkg asset served by us."""

from __future__ import annotations

import re
from functools import cache

from strawberry.http.ides import get_graphql_ide_html

__all__ = ["ASSETS", "MissingAssetError", "offline_graphiql_html"]

STATIC_PREFIX = "/static/graphiql/"

# unpkg path in strawberry's template -> our vendored file (server/static/graphiql/)
ASSETS = {
    "react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}


class MissingAssetError(RuntimeError):
    """strawberry's template asks for an asset we do not vendor (it was upgraded)."""


@cache
def offline_graphiql_html() -> str:
    html = get_graphql_ide_html("graphiql")
    for remote, local in ASSETS.items():
        html = html.replace(f"https://unpkg.com/{remote}", STATIC_PREFIX + local)
    remaining = re.findall(r"https?://unpkg\.com/[^\"']+", html)
    if remaining:
        raise MissingAssetError(f"GraphiQL assets not vendored: {remaining}")
    return html
