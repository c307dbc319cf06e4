"""The embedded broker: kombu's file-system transport without its torn-file race.

kombu's `filesystem` transport creates a message file in the queue folder and then writes into
it, so a worker polling that folder can claim the file while it is still empty or half written
and die on `JSONDecodeError` (kombu issue 1551). Here every file a reader may see is complete:

- a message is written under a temporary name beside the queue folder and renamed into it (a
  rename within one file system is atomic), so it appears whole or not at all;
- the exchange tables in the control folder are rewritten the same way, under a lock file, so a
  reader never sees one half written either;
- a message file that still cannot be read (left by an older version, or a full disk) is moved
  aside to `rejected/` with a warning instead of stopping the worker: the message only carried a
  wake-up, and the dispatcher re-sends wake-ups that were lost (the database is the truth).

Claiming stays kombu's: the reader renames the file into its processing folder, so two workers
never take the same message.

A worker takes its next message as soon as one of its threads is free. kombu's loop sleeps a
whole polling interval whenever it cannot take a message, including when every thread is busy
(the prefetch limit), and so left each freed thread idle for half an interval on average, a
sixth of a worker's time at 30 calls a second (see docs/benchmarks.md). Here an acknowledgement
ends the pause; the interval still paces looking for messages other processes put.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from time import monotonic, monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils import json as kombu_json

log = logging.getLogger("dialer.embedded_broker")

# The Celery `broker_transport` setting that selects this transport.
TRANSPORT = "dialer.embedded_broker:Transport"

# kombu's JSON (it also encodes dates, UUIDs and decimals), typed for this module.
dumps: Callable[[Any], str] = kombu_json.dumps
loads: Callable[[str], Any] = kombu_json.loads
lock: Callable[[Any, int], None] = filesystem.lock
unlock: Callable[[Any], None] = filesystem.unlock


def folders(root: Path) -> dict[str, str]:
    """The transport options that keep every folder of the broker under `root` (created here)."""
    names = {
        "data_folder_in": "queue",
        "control_folder": "control",
        "processing_folder": "processing",
        "staging_folder": "staging",
        "rejected_folder": "rejected",
    }
    options = {option: str(root / name) for option, name in names.items()}
    for path in options.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    # One folder is both the inbox and the outbox: every process reads and writes the same queue.
    options["data_folder_out"] = options["data_folder_in"]
    return options


def write_atomically(path: Path, data: bytes, staging: Path) -> None:
    """Write `data` to `path` so that a reader sees either no file or the whole of it."""
    temporary = staging / f"{uuid.uuid4().hex}.tmp"
    try:
        with temporary.open("xb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


class Channel(filesystem.Channel):
    """A file-system channel whose files appear whole and whose bad files are set aside."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._listings: dict[str, deque[str]] = {}
        self._folders: dict[str, Path] = {}

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Acknowledge a message, and wake the loop: the prefetch slot it held is free."""
        super().basic_ack(delivery_tag, multiple)  # type: ignore[no-untyped-call]
        self._wake()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Reject a message, and wake the loop: the prefetch slot it held is free."""
        super().basic_reject(delivery_tag, requeue)  # type: ignore[no-untyped-call]
        self._wake()

    def _wake(self) -> None:
        transport = self.connection
        if isinstance(transport, Transport):
            transport.wake()

    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put a message on `queue`: written aside, then renamed into the queue folder."""
        # kombu's naming with a finer clock, zero-padded: a sorted listing is first in, first out.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(
                Path(self.data_folder_out) / name, dumps(message).encode(), self._staging
            )
        except OSError as exc:
            raise ChannelError(f"cannot add a message to {self.data_folder_out}") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:  # noqa: ARG002 - kombu's signature
        """Take the oldest readable message of `queue`; raise `Empty` when there is none."""
        inbox = Path(self.data_folder_in)
        for name in self._listing(queue, inbox):
            claimed = self._processing / name
            try:
                os.replace(inbox / name, claimed)
            except OSError:
                continue  # another worker claimed it first
            message = self._read(claimed)
            if message is not None:
                return message
        raise Empty()

    def _listing(self, queue: str, inbox: Path) -> Iterator[str]:
        # Names of one sorted listing are used up before the folder is listed again: listing a
        # folder of thousands of messages for every single one would cost more than the rest.
        names = self._listings.setdefault(queue, deque())
        if not names:
            wanted = f"{queue}.msg"
            names.extend(sorted(n for n in os.listdir(inbox) if n.partition(".")[2] == wanted))
        while names:
            yield names.popleft()

    def _read(self, claimed: Path) -> Any | None:
        try:
            payload = claimed.read_bytes()
            message = loads(payload.decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._reject(claimed, exc)
            return None
        claimed.unlink(missing_ok=True)
        return message

    def _reject(self, claimed: Path, exc: Exception) -> None:
        log.warning(
            "embedded broker: message %s is unreadable (%s); set aside in %s",
            claimed.name,
            exc,
            self._rejected,
        )
        try:
            os.replace(claimed, self._rejected / claimed.name)
        except OSError:
            claimed.unlink(missing_ok=True)

    def get_table(self, exchange: str) -> list[Any]:
        """The exchange's bindings (tables are replaced whole, so no lock is needed to read)."""
        file = self._table_file(exchange)
        try:
            table = loads(file.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ChannelError(f"cannot read the exchange table {file}") from exc
        return [filesystem.exchange_queue_t(*row) for row in table]

    def _queue_bind(
        self, exchange: str, routing_key: str, pattern: str, queue: str, *args: Any
    ) -> None:
        """Add a binding to the exchange's table (read, change and replace under a lock)."""
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock():
            table = self.get_table(exchange)
            if binding not in table:
                self._write_table(exchange, [binding, *table])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        """Delete `queue` and remove its binding from the exchange's table."""
        # The virtual channel's own bookkeeping, skipping kombu's in-place table rewrite.
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern)  # type: ignore[no-untyped-call]
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock():
            table = self.get_table(exchange)
            if binding in table:
                self._write_table(exchange, [row for row in table if row != binding])

    def _write_table(self, exchange: str, table: list[Any]) -> None:
        try:
            write_atomically(self._table_file(exchange), dumps(table).encode(), self._staging)
        except OSError as exc:
            raise ChannelError(f"cannot write the exchange table of {exchange!r}") from exc

    def _table_file(self, exchange: str) -> Path:
        # kombu's check that the exchange name cannot leave the control folder.
        file: Path = self._exchange_file(exchange)  # type: ignore[no-untyped-call]
        return file

    @contextmanager
    def _table_lock(self) -> Iterator[None]:
        # Two processes binding at once must not each write a table missing the other's row.
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with (self.control_folder / ".lock").open("ab") as file:
            lock(file, filesystem.LOCK_EX)
            try:
                yield
            finally:
                unlock(file)

    @property
    def _staging(self) -> Path:
        return self._folder("staging_folder")

    @property
    def _processing(self) -> Path:
        return self._folder("processing_folder")

    @property
    def _rejected(self) -> Path:
        return self._folder("rejected_folder")

    def _folder(self, option: str) -> Path:
        path = self._folders.get(option)
        if path is None:
            # Defaults beside the queue folder, so that a rename never crosses file systems.
            inbox = Path(self.data_folder_in)
            default = inbox.parent / option.split("_", maxsplit=1)[0]
            path = self._folders[option] = Path(self.transport_options.get(option) or default)
        # Every message passes through two of these: a stat is cheaper than `mkdir`'s exception.
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        return path


class Transport(filesystem.Transport):
    """kombu's file-system transport with the atomic channel above, whose consuming loop wakes
    as soon as a message is acknowledged."""

    Channel = Channel
    # Its own broker state, apart from kombu's `filesystem` transport in the same process.
    global_state = virtual.BrokerState()  # type: ignore[no-untyped-call]
    driver_name = "dialer-embedded"

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)  # type: ignore[no-untyped-call]
        self._woken = threading.Event()

    def wake(self) -> None:
        """End the current pause of `drain_events` (from any thread)."""
        self._woken.set()

    def drain_events(  # type: ignore[override]  # kombu's virtual transport's signature
        self,
        connection: Any,  # noqa: ARG002 - kombu's signature
        timeout: float | None = None,
    ) -> None:
        """Deliver one message; between tries, pause a polling interval or until woken.

        kombu's own loop, with its `time.sleep` replaced by a wait that `wake` ends.
        """
        started = monotonic()
        cycle = self.cycle
        assert cycle is not None  # set up by kombu's constructor
        pause: float | None = self.polling_interval
        if timeout and pause and pause > timeout:
            pause = timeout
        while True:
            # Cleared before looking, so that a wake-up between the look and the wait counts.
            self._woken.clear()
            try:
                cycle.get(self._deliver, timeout=timeout)  # type: ignore[no-untyped-call]
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None
                if pause is not None:
                    self._woken.wait(pause)
            else:
                return
