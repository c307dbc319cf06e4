"""The HTTP side of the simulator: `POST /v4.0` (Call API) and `POST /v2.0` (Data API) on one port,
in a background thread. It binds the loopback interface unless given another host."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from dialer.callapi.limits import Limits
from dialer.simulator.account import ActiveCall
from dialer.simulator.config import DownMode, FakeCallApi, Fault
from dialer.simulator.simulator import Api, LogEntry, Outcome, Simulator, Stats

API_PATHS = {f"/{api.value}{slash}": api for api in Api for slash in ("", "/")}
LOOPBACK = "127.0.0.1"
IDLE_KEEPALIVE_SECONDS = 30.0  # an idle keep-alive connection is closed after this long
POLL_SECONDS = 0.05  # how soon stop() is noticed by the serving thread


class _HttpServer(ThreadingHTTPServer):
    """Carries the simulator to its handlers and tracks open connections so stop() can cut them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about connections the client or a simulated outage cut."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like the provider's front end."""

    protocol_version = "HTTP/1.1"
    server_version = "dialer-fake-callapi"
    timeout = IDLE_KEEPALIVE_SECONDS
    # Headers and body go out in separate writes; without this, delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True
    server: _HttpServer

    def setup(self) -> None:
        """Register the connection so that stop() can close it."""
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Forget the connection."""
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def do_POST(self) -> None:
        """Answer a JSON-RPC request."""
        # Read the body first, whatever the path: left unread it would corrupt the next request
        # on this keep-alive connection.
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        api = API_PATHS.get(self.path)
        if api is None:
            self._send_plain(404, b"Not Found")
            return
        outcome = self.server.simulator.handle(raw, self.headers.get("Content-Type"), api)
        self._deliver(outcome)

    def do_GET(self) -> None:
        """The API accepts POST only."""
        self._send_plain(405, b"Method Not Allowed")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the simulator keeps its own request log."""

    def _deliver(self, outcome: Outcome) -> None:
        if outcome.delay > 0 and self.server.stopping.wait(outcome.delay):
            self._drop()  # stopping: do not hold the server up for a slow answer
            return
        if outcome.body is None:
            self._drop()
            return
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", outcome.content_type)
            self.send_header("Content-Length", str(len(outcome.body)))
            self.end_headers()
            self.wfile.write(outcome.body)
        except OSError:
            self.close_connection = True  # the client gave up waiting (a read timeout)

    def _drop(self) -> None:
        """Close the connection without a word: the client cannot know what happened."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SimulatorServer:
    """A running simulator: `start()` it (port 0 picks a free one), talk to `.url`, `stop()` it."""

    def __init__(self, config: FakeCallApi | None = None, host: str = LOOPBACK, port: int = 0):
        self.config = config or FakeCallApi()
        self.simulator = Simulator(self.config)
        self._address = (host, port)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # start, stop and going down may come from other threads
        self._stopped = threading.Event()
        self._timers: list[threading.Timer] = []

    @property
    def url(self) -> str:
        """The Call API's URL, e.g. `http://127.0.0.1:8765/v4.0`."""
        return self._url(Api.CALL)

    @property
    def data_url(self) -> str:
        """The Data API's URL, e.g. `http://127.0.0.1:8765/v2.0`."""
        return self._url(Api.DATA)

    def _url(self, api: Api) -> str:
        host, port = self.address
        return f"http://{host}:{port}/{api.value}"

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        if self._http is None:
            return self._address
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    def start(self) -> SimulatorServer:
        """Bind and serve in a background thread."""
        with self._lock:
            if self._http is not None:
                return self
            self._listen()
            config = self.config
            if config.down_after is not None and config.down_mode is DownMode.REFUSED:
                self._later(config.down_after, lambda: self.refuse_connections(config.down_for))
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, close the log."""
        with self._lock:
            self._stopped.set()
            for timer in self._timers:
                timer.cancel()
            self._silence()
        self.simulator.close()

    def refuse_connections(self, seconds: float) -> None:
        """Go down for `seconds`: stop listening (connections are refused) and cut open ones,
        then listen again on the same port."""
        with self._lock:
            if self._stopped.is_set() or self._http is None:
                return
            self._address = self.address  # come back on the port picked at start
            self._silence()
            self._later(seconds, self._come_back)

    def wait(self) -> None:
        """Block until the server stops (used by `dialer fake-api`)."""
        self._stopped.wait()

    def _come_back(self) -> None:
        with self._lock:
            if not self._stopped.is_set() and self._http is None:
                self._listen()

    def _listen(self) -> None:
        self._http = _HttpServer(self._address, self.simulator)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="fake-callapi",
            daemon=True,
        )
        self._thread.start()

    def _silence(self) -> None:
        """Stop listening and cut every open connection."""
        http, self._http = self._http, None
        if http is not None:
            http.stopping.set()
            http.shutdown()
            http.server_close()
            with http.connections_lock:
                for connection in list(http.connections):
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- accessors, for assertions ------------------------------------------------------------

    def request_log(self) -> list[LogEntry]:
        """Every request so far, oldest first."""
        return self.simulator.request_log()

    def active_calls(self) -> list[ActiveCall]:
        """The calls list.calls would show now."""
        return self.simulator.active_calls()

    def blacklist(self) -> frozenset[str]:
        """The account's blacklist now."""
        return self.simulator.blacklist()

    def limits(self, api: Api = Api.CALL) -> Limits:
        """The limits a reply of `api` would carry now."""
        return self.simulator.limits(api)

    def calls(self) -> list[ActiveCall]:
        """Every call placed so far, ended or not, with how each ends."""
        return self.simulator.calls()

    def stats(self) -> Stats:
        """Counters: requests, successes, points spent per window, limit_exceeded, faults."""
        return self.simulator.stats()

    def inject(self, fault: Fault, times: int = 1, method: str | None = None) -> None:
        """Force `fault` on the next `times` requests (of `method`, if given)."""
        self.simulator.inject(fault, times, method)

    def limit_burst(self, seconds: float) -> None:
        """Refuse every Call API request with `limit_exceeded` for the next `seconds`."""
        self.simulator.limit_burst(seconds)

    def outage(self, seconds: float) -> None:
        """Answer every request with a 503 page for the next `seconds`."""
        self.simulator.outage(seconds)

    def expire_sessions(self) -> None:
        """End every login.user session token now."""
        self.simulator.expire_sessions()
