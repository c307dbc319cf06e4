"""No secret anywhere: a whole run, in key mode and in login mode, against a provider that fails in
every way it can, leaves the access key, the password and every session token out of the output,
the logs, the database, the broker's files and every report format."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.simulator import FakeCallApi, SimulatorServer
from tests.integration.cli import dialer

CAMPAIGN = """
name = "secret-scan"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
contact_message = { type = "tts", value = "Здравствуйте, {name}!" }
[retry]
attempts = 2
delays = ["1s"]
"""
# A session token the simulator issues is 72 hex digits (like the provider's); none may be kept.
SESSION_TOKEN = re.compile(rb"[0-9a-f]{72}")
KEY = "kx-" + secrets.token_hex(16)
PASSWORD = "pw-" + secrets.token_hex(16)


@pytest.fixture
def provider() -> Iterator[SimulatorServer]:
    """A provider that is slow, cuts connections, fails, and lets session tokens expire quickly."""
    config = FakeCallApi(
        access_tokens=frozenset({KEY}),
        login="ops",
        password=PASSWORD,
        token_lifetime=3.0,
        minute_limit=30,
        window_seconds=2.0,
        call_duration=1.0,
        blacklist=frozenset({"79260000003"}),
        fail_rate_5xx=0.1,
        fail_rate_internal=0.1,
        cut_after_create_rate=0.1,
        seed=7,
    )
    with SimulatorServer(config) as server:
        yield server


def _everything_written(home: Path, outputs: list[str]) -> Iterator[tuple[str, bytes]]:
    """Every byte the run left: the commands' output and each file under DIALER_HOME."""
    for i, text in enumerate(outputs):
        yield f"output #{i}", text.encode("utf-8")
    for path in sorted(home.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(home)), path.read_bytes()


@pytest.mark.parametrize("mode", ["key", "login"])
def test_no_secret_is_written_anywhere(
    tmp_path: Path, provider: SimulatorServer, mode: str
) -> None:
    home = tmp_path / "home"
    credentials = (
        {"DIALER_CALLAPI_ACCESS_TOKEN": KEY}
        if mode == "key"
        else {"DIALER_CALLAPI_LOGIN": "ops", "DIALER_CALLAPI_PASSWORD": PASSWORD}
    )
    env = {
        "DIALER_CALLAPI_URL": provider.url,
        "DIALER_BACKOFF": "off",
        "DIALER_OUTCOMES": "off",
        **credentials,
    }
    (tmp_path / "c.toml").write_text(CAMPAIGN, encoding="utf-8")
    rows = "\n".join(f"7926000{i:04d},Клиент {i}" for i in range(40))
    (tmp_path / "c.csv").write_text(f"phone,name\n{rows}\n", encoding="utf-8")
    reports = home / "reports"
    reports.mkdir(parents=True)

    results = [
        dialer(home, "campaign", "create", str(tmp_path / "c.toml"), env=env),
        dialer(home, "contacts", "import", "secret-scan", str(tmp_path / "c.csv"), env=env),
        dialer(home, "run", "secret-scan", "--concurrency", "4", env=env),
    ]
    assert results[-1].returncode == 0, results[-1].stderr
    for fmt in ("csv", "json", "html"):
        out = str(reports / f"report.{fmt}")
        results.append(
            dialer(home, "report", "secret-scan", "--format", fmt, "--output", out, env=env)
        )
    results.append(dialer(home, "report", "secret-scan", env=env))
    results.append(dialer(home, "campaign", "show", "secret-scan", "--json", env=env))
    attempts = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert attempts, "the JSON report must hold the contacts"
    for result in results:
        assert result.returncode == 0, result.stderr

    outputs = [r.stdout + r.stderr for r in results]
    scanned = 0
    for where, data in _everything_written(home, outputs):
        scanned += 1
        assert KEY.encode() not in data, f"the access key is in {where}"
        assert PASSWORD.encode() not in data, f"the password is in {where}"
        assert not SESSION_TOKEN.search(data), f"a session token is in {where}"
    assert scanned > 6  # outputs, the database, the worker's log and the reports were all read
    worker_log = (home / "worker.log").read_text(encoding="utf-8")
    assert "callapi start.informer_call" in worker_log  # the log is there, and redacted
