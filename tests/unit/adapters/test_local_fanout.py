"""LocalFanout, shared by both notifiers: bounded queues that drop the oldest, no leaks."""

from __future__ import annotations

import asyncio

import pytest

from adapters.fanout import LocalFanout, decode_signal, encode_signal


async def test_every_subscriber_of_a_topic_gets_each_payload():
    fanout = LocalFanout()
    async with fanout.subscribe("t") as a, fanout.subscribe("t") as b:
        fanout.publish("t", {"n": 1})
        assert [await anext(a), await anext(b)] == [{"n": 1}, {"n": 1}]


async def test_a_full_queue_drops_its_oldest_payload():
    fanout = LocalFanout(maxsize=2)
    async with fanout.subscribe("t") as sub:
        for n in range(5):
            fanout.publish("t", {"n": n})
        assert [await anext(sub), await anext(sub)] == [{"n": 3}, {"n": 4}]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(sub), 0.05)


async def test_leaving_the_context_unsubscribes_even_on_error():
    fanout = LocalFanout()

    async def fail_while_subscribed():
        async with fanout.subscribe("t"):
            assert fanout.subscriber_count("t") == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await fail_while_subscribed()
    assert fanout.subscriber_count() == 0


def test_signals_round_trip_and_garbage_decodes_to_none():
    assert decode_signal(encode_signal("instance:1", {"a": 1})) == ("instance:1", {"a": 1})
    assert decode_signal("not json") is None
    assert decode_signal('{"payload": {}}') is None


def test_an_oversized_signal_is_refused():
    with pytest.raises(ValueError, match="bytes"):
        encode_signal("t", {"x": "y" * 5000})
