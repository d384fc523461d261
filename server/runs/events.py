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
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from server.runs.keys import Keys

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

    async def position(self, task_id: str | None) -> str:
        """The id of the run's latest event (``None``: of the latest state change of any
        run); ``"0"`` when there is none."""

    async def mark_alive(self, task_id: str, seconds: float) -> None:
        """Say that a worker executes the run, for ``seconds``."""

    async def is_alive(self, task_id: str) -> bool:
        """Whether a worker said so within its last ``seconds``."""

    async def close(self) -> None: ...


class RedisEventStream:
    def __init__(self, redis: Redis, keys: Keys, max_len: int = 10_000) -> None:
        self.redis = redis
        self.keys = keys
        self.max_len = max_len

    async def publish(self, task_id: str, event: Event, *, state_change: bool = False) -> str:
        data: dict[FieldT, EncodableT] = {"data": json.dumps(event, default=str)}
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

    async def position(self, task_id: str | None) -> str:
        key = self.keys.all_events if task_id is None else self.keys.run_events(task_id)
        last = await self.redis.xrevrange(key, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def mark_alive(self, task_id: str, seconds: float) -> None:
        await self.redis.set(self.keys.run_alive(task_id), b"1", px=max(int(seconds * 1000), 1))

    async def is_alive(self, task_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.run_alive(task_id)))

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
        self._alive: dict[str, float] = {}

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

    async def position(self, task_id: str | None) -> str:
        return f"{len(self._events[self.ALL if task_id is None else task_id])}-0"

    async def mark_alive(self, task_id: str, seconds: float) -> None:
        self._alive[task_id] = time.monotonic() + seconds

    async def is_alive(self, task_id: str) -> bool:
        return self._alive.get(task_id, 0.0) > time.monotonic()

    async def close(self) -> None:
        return None


def _order(event_id: str) -> tuple[int, int]:
    """Stream ids ('<ms>-<seq>' in Redis, '<n>-0' in memory) as sortable pairs."""
    head, _, tail = event_id.partition("-")
    return (int(head or 0), int(tail or 0))


class EventHub:
    """One reader per stream in this process, however many subscribers: each event is read
    once and handed to every subscriber's queue (a Redis XREAD per subscriber does not scale
    to hundreds of dashboards).  A reader starts with the first subscriber of its stream
    and is cancelled when the last one leaves, so no blocked read outlives its readers.

    :meth:`follow` gives a run's history after its ``after`` id first, then the live
    events, without gaps or duplicates; :meth:`follow_all` the state changes of every run
    from now on.  A quiet subscriber gets ``("", {})`` every ``heartbeat`` seconds."""

    def __init__(self, stream: EventStream, poll: float = 1.0, heartbeat: float = 10.0) -> None:
        self.stream = stream
        self.poll = poll  # how long one shared read blocks
        self.heartbeat = heartbeat
        self._queues: dict[str | None, set[asyncio.Queue]] = {}
        self._readers: dict[str | None, tuple[asyncio.Task, asyncio.Event]] = {}

    @property
    def readers(self) -> int:
        """How many shared readers run now (one per followed stream)."""
        return len(self._readers)

    async def follow(self, task_id: str, after: str = "0") -> AsyncGenerator[tuple[str, Event]]:
        queue = self._join(task_id)
        try:
            await self._readers[task_id][1].wait()  # its position is fixed: no gap below
            last = after if after not in ("", "$") else "0"
            while batch := await self.stream.read(task_id, last):  # the history, page by page
                for event_id, event in batch:
                    last = max(last, event_id, key=_order)
                    yield event_id, event
            async for event_id, event in self._live(queue):
                if not event_id:
                    yield event_id, event
                elif _order(event_id) > _order(last):
                    last = event_id
                    yield event_id, event
        finally:
            self._leave(task_id, queue)

    async def follow_all(self) -> AsyncIterator[tuple[str, Event]]:
        queue = self._join(None)
        try:
            await self._readers[None][1].wait()
            async for item in self._live(queue):
                yield item
        finally:
            self._leave(None, queue)

    async def _live(self, queue: asyncio.Queue) -> AsyncIterator[tuple[str, Event]]:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), self.heartbeat)
            except TimeoutError:
                yield "", {}  # a heartbeat: lets the caller look at the run's row

    def _join(self, key: str | None) -> asyncio.Queue:
        """Synchronous, like :meth:`_leave`: a cancellation cannot fall between them."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.setdefault(key, set()).add(queue)
        if key not in self._readers:
            ready = asyncio.Event()
            self._readers[key] = (asyncio.create_task(self._read(key, ready)), ready)
        return queue

    def _leave(self, key: str | None, queue: asyncio.Queue) -> None:
        queues = self._queues.get(key, set())
        queues.discard(queue)
        if not queues:
            self._queues.pop(key, None)
            reader = self._readers.pop(key, None)
            if reader is not None:
                reader[0].cancel()

    async def _read(self, key: str | None, ready: asyncio.Event) -> None:
        last: str | None = None
        while True:
            try:
                if last is None:
                    last = await self.stream.position(key)
                    ready.set()
                    continue
                if key is None:
                    events = await self.stream.read_all(last, timeout=self.poll)
                else:
                    events = await self.stream.read(key, last, timeout=self.poll)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis hiccup: subscribers wait, the reader retries
                log.warning("reading events of %s failed (%s); retrying", key or "all runs", exc)
                await asyncio.sleep(self.poll)
                continue
            for event_id, event in events:
                last = event_id
                for queue in list(self._queues.get(key, ())):
                    queue.put_nowait((event_id, event))

    async def close(self) -> None:
        tasks = [task for task, _ in self._readers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._readers.clear()
        self._queues.clear()
