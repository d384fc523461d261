"""Progress streams and the shared readers, on real Redis and in memory."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from server.runs.events import EventHub, MemoryEventStream, RedisEventStream
from server.runs.keys import Keys
from tests.conftest import delete_redis_keys


@pytest.fixture(params=["redis", "memory"])
async def stream(request):
    if request.param == "memory":
        yield MemoryEventStream()
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"fpe-test-{uuid.uuid4().hex[:10]}"
    events = RedisEventStream(Redis.from_url(url), Keys(prefix))
    yield events
    await events.close()
    await delete_redis_keys(url, prefix)


async def test_a_late_subscriber_gets_a_long_history_whole_then_live_events(stream):
    for i in range(1500):  # more than one XREAD returns
        await stream.publish("run", {"i": i})
    hub = EventHub(stream, poll=0.2)
    follower = hub.follow("run")
    seen = [(await anext(follower))[1]["i"] for _ in range(1500)]
    assert seen == list(range(1500))
    await stream.publish("run", {"i": 1500})
    event_id, event = await anext(follower)
    assert event == {"i": 1500} and event_id
    assert hub.readers == 1
    await follower.aclose()
    assert hub.readers == 0


async def test_many_subscribers_share_one_reader_and_each_gets_every_event(stream):
    hub = EventHub(stream, poll=0.2)
    followers = [hub.follow("run") for _ in range(20)] + [hub.follow_all() for _ in range(20)]
    pending = [asyncio.create_task(anext(f)) for f in followers]
    await asyncio.sleep(0.3)
    assert hub.readers == 2
    await stream.publish("run", {"status": "queued"}, state_change=True)
    results = await asyncio.wait_for(asyncio.gather(*pending), 10)
    assert all(event == {"status": "queued"} for _, event in results)
    for follower in followers:
        await follower.aclose()
    assert hub.readers == 0


async def test_a_subscriber_cancelled_while_joining_leaves_no_reader(stream):
    hub = EventHub(stream, poll=0.2)

    async def follow() -> None:
        async for _ in hub.follow("run"):
            pass

    for _ in range(20):
        task = asyncio.create_task(follow())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert hub.readers == 0


async def test_alive_marks_expire(stream):
    await stream.mark_alive("run", 0.3)
    assert await stream.is_alive("run")
    assert not await stream.is_alive("other")
    await asyncio.sleep(0.5)
    assert not await stream.is_alive("run")
