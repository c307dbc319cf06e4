"""The HTML report in a real browser: Debian's chromium, headless, driven over the DevTools
protocol on a pipe (`--remote-debugging-pipe`: no port, no extra package).

The page is loaded from a file; the test finds each chart (calls per minute, call results, the
answered rate) laid out at a visible size, every bar drawn, no request other than the file itself
(the page is self-contained) and no console error. A page with an outside image and a console
error proves that the watch catches both. Skipped when chromium is absent, unless
`DIALER_REQUIRE_SERVICES=1` (CI installs it: `.ci/run`).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dialer.reports.html_report import write_html
from dialer.reports.messages import Lang
from tests.services import services_required
from tests.unit.factories import outcome_campaign, report_campaign

CHROMIUM = os.environ.get("DIALER_TEST_CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
    "--window-size=1000,1200",
)
CHART = """JSON.stringify((() => {
  const chart = document.getElementById("%s");
  const box = chart.getBoundingClientRect();
  const style = getComputedStyle(chart);
  const bars = [...chart.querySelectorAll("rect.bar")].map(b => b.getBoundingClientRect());
  return {width: box.width, height: box.height, left: box.left,
          visible: style.display !== "none" && style.visibility === "visible",
          page: document.documentElement.clientWidth,
          bars: bars.map(b => [b.width, b.height])};
})())"""


@dataclass
class Browser:
    """One headless chromium and the page it opened, spoken to over the DevTools pipe."""

    process: subprocess.Popen[bytes]
    commands: int
    replies: int
    events: list[dict[str, Any]] = field(default_factory=list)
    session: str | None = None
    _buffer: bytes = b""
    _last: int = 0

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command to the page (or the browser before attaching) and wait its reply."""
        self._last += 1
        message: dict[str, Any] = {"id": self._last, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._last:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        """Read events until `method` arrives."""
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._receive(deadline))

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select(
                [self.replies], [], [], max(0.0, deadline - time.monotonic())
            )
            assert ready, "chromium did not answer in time"
            chunk = os.read(self.replies, 1 << 16)
            assert chunk, "chromium closed the DevTools pipe"
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        reply: dict[str, Any] = json.loads(message)
        return reply

    def requests(self) -> list[str]:
        """Every URL the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (failed loads among them)."""
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
                found.append(json.dumps(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A headless chromium with a blank page, attached and watching network and console."""
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if services_required():
            pytest.fail(f"{reason}; DIALER_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(reason)
    to_browser, commands = os.pipe()
    replies, from_browser = os.pipe()

    def pipes_on_3_and_4() -> None:
        # DevTools reads fd 3 and writes fd 4; moved up first so that neither clobbers the other.
        high_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
        os.dup2(high_in, 3)
        os.dup2(high_out, 4)

    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "about:blank"],
        preexec_fn=pipes_on_3_and_4,  # noqa: PLW1509 - only dup2 calls: safe with threads
        pass_fds=(3, 4),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(to_browser)
    os.close(from_browser)
    browser = Browser(process, commands, replies)
    try:
        targets = browser.call("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        browser.session = browser.call(
            "Target.attachToTarget", {"targetId": page, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.call(f"{domain}.enable")
        yield browser
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
        os.close(commands)
        os.close(replies)


def _open(browser: Browser, page: Path) -> None:
    browser.call("Page.navigate", {"url": page.as_uri()})
    browser.wait_for("Page.loadEventFired")


def _chart(browser: Browser, chart_id: str = "chart") -> dict[str, Any]:
    expression = CHART % chart_id
    value = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
    shown: dict[str, Any] = json.loads(value["result"]["value"])
    return shown


@pytest.mark.parametrize("lang", [Lang.EN, Lang.RU])
def test_the_report_draws_its_chart_and_asks_for_nothing(
    session: Session, tmp_path: Path, browser: Browser, lang: Lang
) -> None:
    page = tmp_path / "report.html"
    with page.open("w", encoding="utf-8") as out:
        write_html(session, report_campaign(session), out, lang)
    _open(browser, page)
    chart = _chart(browser)
    assert chart["visible"]
    assert chart["width"] >= 600
    assert chart["height"] >= 200
    assert chart["left"] + chart["width"] <= chart["page"]  # inside the page, no scrolling aside
    assert len(chart["bars"]) == 3  # three minutes with calls
    assert all(width > 50 and height > 0 for width, height in chart["bars"])
    assert browser.requests() == [page.as_uri()]
    assert browser.errors() == []


@pytest.mark.parametrize("lang", [Lang.EN, Lang.RU])
def test_the_report_draws_the_outcome_charts(
    session: Session, tmp_path: Path, browser: Browser, lang: Lang
) -> None:
    page = tmp_path / "report.html"
    with page.open("w", encoding="utf-8") as out:
        write_html(session, outcome_campaign(session), out, lang)
    _open(browser, page)
    for chart_id in ("chart", "dispositions-chart", "answered-chart"):
        chart = _chart(browser, chart_id)
        assert chart["visible"], chart_id
        assert chart["width"] >= 600
        assert chart["height"] >= 200
        assert chart["left"] + chart["width"] <= chart["page"]
    # One bar per disposition, as tall as its count (2 answered, 1 busy, no answer, bad number).
    heights = [h for _, h in _chart(browser, "dispositions-chart")["bars"]]
    assert len(heights) == 8
    assert heights[0] > 0
    assert heights[1:4] == [heights[0] / 2] * 3
    assert heights[4:] == [0] * 4
    # Two hours with known outcomes (12:00 and 13:00 MSK): 20% and 50% answered.
    (w20, h20), (w50, h50) = _chart(browser, "answered-chart")["bars"]
    assert w20 > 50
    assert w50 > 50
    assert h50 == pytest.approx(h20 * 2.5, abs=0.5)
    assert browser.requests() == [page.as_uri()]
    assert browser.errors() == []


def test_the_watch_sees_an_outside_request_and_a_console_error(
    tmp_path: Path, browser: Browser
) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    _open(browser, page)
    assert browser.requests() == [page.as_uri(), "http://127.0.0.1:9/x.png"]
    assert any("boom" in error for error in browser.errors())
