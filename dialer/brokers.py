"""Reaching the broker: its transport installed, its scheme known, its server answering.

`check_broker(url, connect)` raises `BrokerUnavailable`, whose one-line message names the fix
(which extra to install, which URL to write, what to start); kombu's and the transports' own
errors are translated here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kombu.utils.url import maybe_sanitize_url

URL_VARIABLE = "DIALER_BROKER_URL"
USE = "use redis://host:6379/0 or amqp://user:password@host:5672//"
# The extra that installs what each transport imports (py-amqp comes with Celery itself).
TRANSPORT_EXTRAS = {"redis": "redis", "rediss": "redis", "sentinel": "redis"}


class BrokerUnavailable(RuntimeError):
    """The configured broker cannot be used; the message says why and what to do."""


def check_broker(url: str, connect: Callable[[], Any], timeout: float = 5.0) -> None:
    """Make the kombu connection `connect()` returns for `url`, and connect it once."""
    scheme = urlsplit(url).scheme or url.partition(":")[0]
    try:
        # kombu imports the transport (and its client library) when the connection is made.
        connection = connect()
        connection.transport  # noqa: B018
    except KeyError:
        raise BrokerUnavailable(f"{URL_VARIABLE}: no broker transport {scheme}://; {USE}") from None
    except ImportError as exc:
        raise BrokerUnavailable(_not_installed(scheme, exc)) from None
    try:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # each transport fails in its own way; all mean "not reachable"
        raise BrokerUnavailable(
            f"cannot reach the broker {maybe_sanitize_url(url)}: {_first_line(exc)} "
            f"(is it running, and is {URL_VARIABLE} right?)"
        ) from exc
    finally:
        connection.release()


def _not_installed(scheme: str, exc: ImportError) -> str:
    extra = TRANSPORT_EXTRAS.get(scheme, "production")
    missing = f"no module {exc.name!r}" if exc.name else _first_line(exc)
    return (
        f"the {scheme}:// broker transport is not installed ({missing}): "
        f"pip install 'dialer[{extra}]'"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
