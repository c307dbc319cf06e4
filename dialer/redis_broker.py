"""The Redis broker: kombu's Redis transport whose channels can still reach Redis after their
connection was collected, so that a worker rides out Redis restarts instead of exiting.

When the Celery consumer loses Redis it calls `Connection.collect()` and then `close()` on the
dead connection. `collect()` ends by dropping the transport's reference to the connection
(`transport.client = None`), and it can return without having closed every channel: with Redis
away, closing the task channel fails early (its pending BRPOP cannot be read), and closing the
channels stops at the first one whose close fails (the remote-control channel deleting its
reply queue). The `close()` that follows then closes the task channel: it restores the
delivered but unacknowledged messages to the queue, for which it builds a new Redis pool from
`transport.client`, `None` by now, and the `AttributeError("'NoneType' object has no attribute
'hostname'")` is not one of the connection errors Celery expects there, so the worker exits with
"Unrecoverable error". It takes a loss of Redis while messages are unacknowledged, which Redis
restarts seconds apart under load meet often (tests/integration/test_redis_broker.py reproduces
it deterministically). A task finishing in a pool thread after the loss acknowledges through the
same dead channel and meets the same error. kombu issues 970 and 582 show this very traceback on
other paths that close a channel after its connection let go of it.

Here a channel keeps the Redis connection parameters it was built with, so a late restore or
acknowledgement either reaches Redis or fails with a Redis `ConnectionError`, which kombu and
Celery already treat as the broker being away (logged; the messages stay in Redis's unacked
set and come back after the visibility timeout, and the dispatcher re-sends wake-ups that were
lost in any case). Nothing else of kombu's transport changes.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, whose connection parameters outlive its link to the connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._params: dict[bool, dict[str, Any]] = {}
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # kombu is untyped
        # Both kinds now, while the connection is there: the first use of the synchronous pool
        # (restoring, acknowledging) may come after the connection let go of this channel.
        self._connparams(asynchronous=False)
        self._connparams(asynchronous=True)

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        """kombu's parameters for a Redis pool, worked out once per kind and then reused."""
        params = self._params.get(asynchronous)
        if params is None:
            params = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
            self._params[asynchronous] = params
        # A copy each time, as kombu builds a fresh dict: redis-py's pool keeps what it is given.
        return dict(params)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
