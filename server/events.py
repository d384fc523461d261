"""Progress events of training runs: a per-run stream that a late reader can replay from
the start or from an id, plus one stream of every run's state changes.

Two implementations with one interface: :class:`RedisEventStream` (Redis Streams, for
workers on other machines) and :class:`MemoryEventStream` (the embedded default, one
process).  Event ids are strings that order like Redis stream ids; ``"0"`` means "from the
start".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis

from server.keys import Keys

__all__ = ["TERMINAL", "EventHub", "EventStream", "MemoryEventStream", "RedisEventStream"]

log = logging.getLogger("fpe.events")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
Event = dict[str, Any]


class EventStream(Protocol):
    async def publish(self, task_id: str, event: Event, *, state_change: bool = False) -> str:
        """Append ``event`` to the run's stream (and to the global one for state changes)."""

    async def read(
        self, task_id: str, after: str = "0", timeout: float = 0.0
    ) -> list[tuple[str, Event]]:
        """Events after ``after``; waits up to ``timeout`` seconds when there are none."""

    async def read_all(self, after: str = "$", timeout: float = 0.0) -> list[tuple[str, Event]]:
        """State changes of every run after ``after`` (``"$"``: only new ones)."""

    async def close(self) -> None: ...


class RedisEventStream:
    def __init__(self, redis: Redis, keys: Keys, max_len: int = 10_000) -> None:
        self.redis = redis
        self.keys = keys
        self.max_len = max_len

    async def publish(self, task_id: str, event: Event, *, state_change: bool = False) -> str:
        data = {"data": json.dumps(event, default=str)}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self.keys.run_events(task_id), data, maxlen=self.max_len, approximate=True)
            if state_change:
                pipe.xadd(self.keys.all_events, data, maxlen=self.max_len, approximate=True)
            if event.get("status") in TERMINAL:
                pipe.expire(self.keys.run_events(task_id), 7 * 24 * 3600)
            ids = await pipe.execute()
        return _text(ids[0])

    async def read(
        self, task_id: str, after: str = "0", timeout: float = 0.0
    ) -> list[tuple[str, Event]]:
        return await self._read(self.keys.run_events(task_id), after, timeout)

    async def read_all(self, after: str = "$", timeout: float = 0.0) -> list[tuple[str, Event]]:
        if after == "$":  # pin "now" to an id, so nothing falls between two reads
            last = await self.redis.xrevrange(self.keys.all_events, count=1)
            after = _text(last[0][0]) if last else "0-0"
            if timeout <= 0:
                return []
        return await self._read(self.keys.all_events, after, timeout)

    async def _read(self, key: str, after: str, timeout: float) -> list[tuple[str, Event]]:
        block = int(timeout * 1000) if timeout > 0 else None
        reply = await self.redis.xread({key: after}, block=block, count=1000)
        out = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                raw = fields.get(b"data") or fields.get("data")
                out.append((_text(entry_id), json.loads(raw)))
        return out

    async def close(self) -> None:
        await self.redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class MemoryEventStream:
    """In-process streams with the same semantics (ids ``"<n>-0"``, n from 1)."""

    ALL = "*"

    def __init__(self) -> None:
        self._events: dict[str, list[tuple[str, Event]]] = defaultdict(list)
        self._changed = asyncio.Condition()

    async def publish(self, task_id: str, event: Event, *, state_change: bool = False) -> str:
        async with self._changed:
            events = self._events[task_id]
            event_id = f"{len(events) + 1}-0"
            events.append((event_id, json.loads(json.dumps(event, default=str))))
            if state_change:
                every = self._events[self.ALL]
                every.append((f"{len(every) + 1}-0", events[-1][1]))
            self._changed.notify_all()
        return event_id

    async def read(
        self, task_id: str, after: str = "0", timeout: float = 0.0
    ) -> list[tuple[str, Event]]:
        return await self._read(task_id, after, timeout)

    async def read_all(self, after: str = "$", timeout: float = 0.0) -> list[tuple[str, Event]]:
        if after == "$":
            after = f"{len(self._events[self.ALL])}-0"
        return await self._read(self.ALL, after, timeout)

    async def _read(self, key: str, after: str, timeout: float) -> list[tuple[str, Event]]:
        start = int(after.split("-")[0]) if after not in ("0", "") else 0
        async with self._changed:
            if len(self._events[key]) <= start and timeout > 0:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: len(self._events[key]) > start), timeout
                    )
                except TimeoutError:
                    return []
            return list(self._events[key][start:])

    async def close(self) -> None:
        return None


def _order(event_id: str) -> tuple[int, int]:
    """Stream ids ('<ms>-<seq>' in Redis, '<n>-0' in memory) as sortable pairs."""
    head, _, tail = event_id.partition("-")
    return (int(head or 0), int(tail or 0))


class EventHub:
    """One reader per run stream in this process, however many subscribers: each event is
    read once and handed to every subscriber's queue (a Redis XREAD per subscriber does not
    scale to hundreds of dashboards).  A subscriber gets the stream's history after its
    ``after`` id first, then the live events, without gaps or duplicates."""

    def __init__(self, stream: EventStream, poll: float = 1.0, heartbeat: float = 10.0) -> None:
        self.stream = stream
        self.poll = poll  # how long one shared read blocks
        self.heartbeat = heartbeat  # a quiet subscriber gets ("", {}) this often
        self._queues: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._readers: dict[str, asyncio.Task] = {}

    async def follow(self, task_id: str, after: str = "0") -> AsyncIterator[tuple[str, Event]]:
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[task_id].add(queue)
        if task_id not in self._readers:
            start = await self._latest(task_id)
            self._readers[task_id] = asyncio.create_task(self._read(task_id, start))
        try:
            last = after if after not in ("", "$") else "0"
            for event_id, event in await self.stream.read(task_id, last):
                if _order(event_id) > _order(last):
                    last = event_id
                    yield event_id, event
            while True:
                try:
                    event_id, event = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    yield "", {}  # a heartbeat: lets the caller look at the run's row
                    continue
                if _order(event_id) > _order(last):
                    last = event_id
                    yield event_id, event
        finally:
            self._queues[task_id].discard(queue)
            if not self._queues[task_id]:
                del self._queues[task_id]
                reader = self._readers.pop(task_id, None)
                if reader is not None:
                    reader.cancel()

    async def _latest(self, task_id: str) -> str:
        events = await self.stream.read(task_id, "0")
        return events[-1][0] if events else "0"

    async def _read(self, task_id: str, last: str) -> None:
        while True:
            try:
                events = await self.stream.read(task_id, last, timeout=self.poll)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis hiccup: subscribers wait, the reader retries
                log.warning("reading the events of run %s failed; retrying", task_id, exc_info=True)
                await asyncio.sleep(self.poll)
                continue
            for event_id, event in events:
                last = event_id
                for queue in list(self._queues.get(task_id, ())):
                    queue.put_nowait((event_id, event))

    async def close(self) -> None:
        for reader in self._readers.values():
            reader.cancel()
        await asyncio.gather(*self._readers.values(), return_exceptions=True)
        self._readers.clear()
