"""The dispatcher alone, in a process of its own, until SIGTERM: `bench.soak_bench` runs it so
that its memory and CPU are measured apart from the simulator's (which keeps every call placed).

    python -m bench.dispatcher [INTERVAL]    # configured by the DIALER_* environment
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from dialer.runner import dispatch_forever


def main() -> None:
    """Dispatch every INTERVAL seconds (0.25 by default) until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    dispatch_forever(stop, float(sys.argv[1]) if len(sys.argv) > 1 else 0.25)


if __name__ == "__main__":
    main()
