"""Short-lived read caches of the prediction path, one set per database engine.

Which model version is active, and which id a team name has, change rarely; predictions
read them per request, so they are cached for a few seconds.  Changes made in this process
(activation, archiving, a completed run) clear them at once; changes made by a worker in
another process are seen within ``ACTIVE_TTL`` seconds.
"""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

__all__ = ["ACTIVE_TTL", "TEAM_TTL", "get", "invalidate", "put"]

ACTIVE_TTL = 2.0
TEAM_TTL = 60.0
_MAX_ENTRIES = 10_000
# per engine: an AsyncEngine, or a server.store.lite.LiteReader
_CACHES: WeakKeyDictionary[Any, dict[Any, tuple[float, Any]]] = WeakKeyDictionary()


def get(engine: Any, key: Any, ttl: float) -> Any:
    hit = _CACHES.get(engine, {}).get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    return None


def put(engine: Any, key: Any, value: Any) -> None:
    cache = _CACHES.setdefault(engine, {})
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    cache[key] = (time.monotonic(), value)


def invalidate(engine: Any) -> None:
    """Forget everything cached for ``engine`` (call after changing the registry)."""
    _CACHES.pop(engine, None)
