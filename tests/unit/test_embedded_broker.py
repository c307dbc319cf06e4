"""The embedded broker: messages appear whole while others read, bad files are set aside."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu.connection import Connection

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
