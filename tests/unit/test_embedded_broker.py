"""The embedded broker: messages appear whole while others read, bad files are set aside."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from dialer.embedded_broker import TRANSPORT, folders

WRITERS = 2
MESSAGES_EACH = 1500


def connect(root: Path) -> Connection:
    return Connection(  # type: ignore[no-untyped-call]  # kombu is untyped
        "filesystem://", transport=TRANSPORT, transport_options=folders(root)
    )


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    with connect(tmp_path / "broker") as connection:
        yield connection.default_channel


def write_messages(root: Path, writer: int) -> None:
    with connect(root) as connection:
        channel = connection.default_channel
        for number in range(MESSAGES_EACH):
            channel._put("q", {"writer": writer, "number": number, "padding": "x" * 500})


def drain(channel: Any) -> list[Any]:
    messages = []
    while True:
        try:
            messages.append(channel._get("q"))
        except Empty:
            return messages


def test_messages_written_while_a_reader_polls_arrive_whole_and_once(tmp_path: Path) -> None:
    # kombu's own transport fails this: its reader claims files still being written.
    root = tmp_path / "broker"
    writers = [
        multiprocessing.get_context("spawn").Process(target=write_messages, args=(root, n))
        for n in range(WRITERS)
    ]
    received: list[Any] = []
    with connect(root) as connection:
        channel = connection.default_channel
        for process in writers:
            process.start()
        while any(process.is_alive() for process in writers):
            received.extend(drain(channel))
        received.extend(drain(channel))
    for process in writers:
        process.join()
        assert process.exitcode == 0

    keys = [(m["writer"], m["number"]) for m in received]
    assert sorted(keys) == [(w, n) for w in range(WRITERS) for n in range(MESSAGES_EACH)]
    assert not any((root / "rejected").iterdir())


def test_an_unreadable_message_is_set_aside_and_the_next_one_read(
    channel: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = tmp_path / "broker" / "queue"
    (queue / "0001_torn.q.msg").write_bytes(b"")
    channel._put("q", {"number": 1})

    assert channel._get("q") == {"number": 1}
    with pytest.raises(Empty):
        channel._get("q")
    assert [p.name for p in (tmp_path / "broker" / "rejected").iterdir()] == ["0001_torn.q.msg"]
    assert "0001_torn.q.msg is unreadable" in caplog.text


def test_messages_leave_in_the_order_they_came(channel: Any) -> None:
    for number in range(5):
        channel._put("q", {"number": number})
    assert [m["number"] for m in drain(channel)] == [0, 1, 2, 3, 4]


def test_a_consumer_gets_what_a_producer_published(tmp_path: Path) -> None:
    with connect(tmp_path / "broker") as connection:
        queue = connection.SimpleQueue("wakeups")
        queue.put({"contact": 7})
        message = queue.get(timeout=2)
        message.ack()
        queue.close()
    assert message.payload == {"contact": 7}


def test_bindings_survive_and_can_be_removed(channel: Any) -> None:
    channel._queue_bind("ex", "a", "", "qa")
    channel._queue_bind("ex", "b", "", "qb")
    channel._queue_bind("ex", "a", "", "qa")
    assert [row.queue for row in channel.get_table("ex")] == ["qb", "qa"]

    channel._delete("qa", "ex", "a", "")
    assert [row.queue for row in channel.get_table("ex")] == ["qb"]


def test_a_message_put_after_a_reader_listed_the_folder_is_still_read(channel: Any) -> None:
    channel._put("q", {"number": 1})
    channel._put("q", {"number": 2})
    assert channel._get("q") == {"number": 1}
    channel._put("q", {"number": 3})
    assert [m["number"] for m in drain(channel)] == [2, 3]


def test_two_readers_of_one_queue_never_take_the_same_message(tmp_path: Path) -> None:
    with connect(tmp_path / "broker") as first, connect(tmp_path / "broker") as second:
        readers = [first.default_channel, second.default_channel]
        for number in range(20):
            readers[0]._put("q", {"number": number})
        taken: list[int] = []
        for turn in range(40):
            with contextlib.suppress(Empty):
                taken.append(readers[turn % 2]._get("q")["number"])
    assert sorted(taken) == list(range(20))


def a_queue() -> Any:
    """A direct queue `q` bound to its own exchange."""
    return Queue("q", Exchange("q"), "q")  # type: ignore[no-untyped-call]


def test_an_acknowledgement_lets_a_busy_consumer_take_its_next_message_at_once(
    tmp_path: Path,
) -> None:
    # One message in hand (prefetch 1) and a polling interval of an hour: kombu's loop, finding
    # no room, would sleep the hour; ours wakes when the message in hand is acknowledged.
    options = {**folders(tmp_path / "broker"), "polling_interval": 3600}
    queue = a_queue()
    received: list[Any] = []
    with Connection(  # type: ignore[no-untyped-call]
        "filesystem://", transport=TRANSPORT, transport_options=options
    ) as connection:
        channel = connection.channel()
        producer = connection.Producer(channel)
        for number in range(2):
            producer.publish(
                {"number": number}, exchange=queue.exchange, routing_key="q", declare=[queue]
            )
        consumer = connection.Consumer(
            queue, channel=channel, callbacks=[lambda _body, message: received.append(message)]
        )
        consumer.qos(prefetch_count=1)
        consumer.consume()
        connection.drain_events(timeout=5)
        waiting = threading.Thread(target=connection.drain_events, daemon=True)  # until one comes
        waiting.start()

        received[0].ack()  # from this thread, as a Celery worker thread acknowledges its task
        waiting.join(timeout=60)

        assert not waiting.is_alive()
        assert [m.payload["number"] for m in received] == [0, 1]


def test_draining_an_empty_queue_times_out_as_celery_expects(tmp_path: Path) -> None:
    with connect(tmp_path / "broker") as connection:
        connection.Consumer(a_queue()).consume()
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.05)
