"""The Call API simulator over real HTTP on 127.0.0.1, driven with plain httpx (not our client)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from dialer.cli.app import app
from dialer.simulator import FakeCallApi, Fault, SimulatorServer
from tests.clock import Clock
from tests.unit.callapi.vectors import DOC_TOKEN, REQUESTS, SIMPLE_CALL_REFERENCE_PARAMS

TOKEN = "test-token"
NUMBER = "74993720692"
CONTACT = "79260000000"
JSON = {"Content-Type": "application/json; charset=UTF-8"}

# The call-control examples of the reference (vectors.py holds those of the dialer's methods).
CALL_CONTROL_EXAMPLES: dict[str, dict[str, Any]] = {
    "make.call": {"call_session_id": 2354891, "to": "79260000000"},
    "transfer.talk": {"call_session_id": 2786459},
    "restore.talk": {"call_session_id": 25374860},
    "hold.call": {
        "call_session_id": 23465781,
        "contact_message": {"type": "media", "value": "2034"},
    },
    "unhold.call": {"call_session_id": 2846590},
    "tag.call": {"call_session_id": 2846590, "tag_id": 36},
    "disconnect.leg": {"call_session_id": 2875654, "leg_id": 9875},
    "add.coach": {"call_session_id": 27934036, "phone_number": "79260000000"},
    "record.call": {"call_session_id": 235496, "action": "on"},
    "call.talk_option": {"call_session_id": 246578, "button": "1"},
    "send.dtmf": {"call_session_id": 27934036, "dtmf_string": "1"},
    "list.talk_options": {},
}
EXAMPLES: dict[str, dict[str, Any]] = {
    **{method: request["params"] for method, request in REQUESTS.items()},
    **{
        method: {"access_token": DOC_TOKEN, **params}
        for method, params in CALL_CONTROL_EXAMPLES.items()
    },
}
LIMIT_KEYS = {
    "day_limit",
    "day_remaining",
    "day_reset",
    "minute_limit",
    "minute_remaining",
    "minute_reset",
}


class Api:
    """A running simulator and an httpx client to talk to it."""

    def __init__(self, server: SimulatorServer, clock: Clock) -> None:
        self.server = server
        self.clock = clock
        self.http = httpx.Client(timeout=5.0)

    def post(self, body: bytes | str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST a raw body; return the decoded JSON reply."""
        response = self.http.post(self.server.url, content=body, headers=headers or JSON)
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()
        return reply

    def send(self, request: Any) -> dict[str, Any]:
        """POST a JSON value."""
        return self.post(json.dumps(request, ensure_ascii=False))

    def rpc(self, method: str, params: dict[str, Any], *, token: str | None = TOKEN) -> Any:
        """Call `method` with `params` (and the access token, unless None)."""
        full = dict(params) if token is None else {"access_token": token, **params}
        return self.send({"jsonrpc": "2.0", "id": "req1", "method": method, "params": full})

    def start(self, method: str = "start.informer_call", **params: Any) -> dict[str, Any]:
        """Place a call with the informer example's parameters, overridden by `params`."""
        base = _example(method)
        base.pop("access_token", None)
        return self.rpc(method, {**base, **params})  # type: ignore[no-any-return]


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api() -> Iterator[MakeApi]:
    """Start simulators with a hand-moved clock; stop them after the test."""
    started: list[Api] = []

    def make(**config: Any) -> Api:
        clock = Clock()
        server = SimulatorServer(FakeCallApi(clock=clock, **config)).start()
        api = Api(server, clock)
        started.append(api)
        return api

    yield make
    for api in started:
        api.http.close()
        api.server.stop()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """A simulator with the default account."""
    return make_api()


def _example(method: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[method])


def _error(reply: dict[str, Any]) -> tuple[int, str, str | None]:
    error = reply["error"]
    return error["code"], error["data"]["mnemonic"], error["data"]["field"]


# --- the docs' examples -------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(EXAMPLES))
def test_every_request_example_of_the_docs_succeeds_with_the_token_replaced(
    api: Api, method: str
) -> None:
    params = _example(method)
    if "access_token" in params:
        params["access_token"] = TOKEN
    reply = api.send({"jsonrpc": "2.0", "id": "req1", "method": method, "params": params})
    assert "error" not in reply, reply
    assert reply["id"] == "req1"
    assert set(reply["result"]["metadata"]["limits"]) == LIMIT_KEYS
    data = reply["result"]["data"]
    if method.startswith("start."):
        assert isinstance(data["call_session_id"], int)
    elif method == "login.user":
        assert data["access_token"]
        assert isinstance(data["expire_at"], int)
    elif method.startswith("list."):
        assert isinstance(data, list)
    else:
        assert data["success"] in (True, "true")


def test_the_reference_simple_call_example_with_an_operator_object_is_refused(api: Api) -> None:
    # methods.py follows the English page (operator is a number string); so does the simulator.
    reply = api.rpc("start.simple_call", {**SIMPLE_CALL_REFERENCE_PARAMS, "access_token": TOKEN})
    assert _error(reply) == (-32602, "data_type_error", "operator")


# --- the envelope -------------------------------------------------------------------------------


def test_a_batch_is_refused_with_the_docs_misspelt_mnemonic(api: Api) -> None:
    reply = api.send([{"jsonrpc": "2.0", "id": 1, "method": "list.calls", "params": {}}])
    assert _error(reply) == (-32099, "batch_opreations_not_supported", None)
    assert reply["id"] is None


def test_a_notification_is_refused(api: Api) -> None:
    reply = api.send({"jsonrpc": "2.0", "method": "list.calls", "params": {"access_token": TOKEN}})
    assert _error(reply)[:2] == (-32099, "notifications_not_supported")
    assert "metadata" in reply  # not among the errors the docs exempt from limits


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", (-32700, "parse_error")),
        ("42", (-32600, "invalid_request")),
        (
            '{"jsonrpc": "1.0", "id": 1, "method": "list.calls", "params": {}}',
            (-32600, "invalid_request"),
        ),
        (
            '{"jsonrpc": "2.0", "id": {}, "method": "list.calls", "params": {}}',
            (-32600, "invalid_request"),
        ),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "list.calls", "params": []}',
            (-32600, "invalid_request"),
        ),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "start.nothing", "params": {}}',
            (-32601, "method_not_found"),
        ),
    ],
)
def test_envelope_errors_carry_no_limits(api: Api, body: str, expected: tuple[int, str]) -> None:
    reply = api.post(body)
    assert _error(reply)[:2] == expected
    assert "metadata" not in reply
    assert reply["error"]["data"]["extended_helper"] is None


def test_the_api_answers_only_post_on_its_path(api: Api) -> None:
    assert api.http.get(api.server.url).status_code == 405
    wrong = api.server.url.replace("/v4.0", "/v3.0")
    assert api.http.post(wrong, content=b"{}").status_code == 404
    assert "error" not in api.post(
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "list.calls", "params": {"access_token": TOKEN}}
        ),
    )
    slash = api.http.post(api.server.url + "/", json=_list_calls_request())
    assert "result" in slash.json()


def _list_calls_request() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "list.calls", "params": {"access_token": TOKEN}}


def test_a_body_not_in_utf8_is_refused(api: Api) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "cp",
            "method": "start.informer_call",
            "params": {**_example("start.informer_call"), "access_token": TOKEN},
        },
        ensure_ascii=False,
    ).encode("cp1251")
    reply = api.post(body)
    assert _error(reply)[:2] == (-32602, "character_encoding_not_allowed")
    assert reply["id"] == "cp"
    assert api.server.active_calls() == []


def test_a_declared_charset_other_than_utf8_is_refused(api: Api) -> None:
    body = json.dumps(_list_calls_request())
    reply = api.post(body, headers={"Content-Type": "application/json; charset=windows-1251"})
    assert _error(reply)[:2] == (-32602, "character_encoding_not_allowed")


# --- parameters and authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"contact": None}, ("required_parameter_missed", "contact")),
        ({"contact": 79260000000}, ("data_type_error", "contact")),
        ({"surprise": 1}, ("unexpected_parameters", "surprise")),
        ({"direction": "sideways"}, ("invalid_parameter_value", "direction")),
        (
            {"contact_message": {"type": "tts"}},
            ("required_parameter_missed", "contact_message.value"),
        ),
    ],
)
def test_parameters_are_checked_against_the_docs_tables(
    api: Api, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    params = {**_example("start.informer_call"), "access_token": TOKEN, **change}
    params = {key: value for key, value in params.items() if value is not None}
    reply = api.rpc("start.informer_call", params, token=None)
    code, mnemonic, field = _error(reply)
    assert (code, mnemonic, field) == (-32602, *expected)
    assert reply["error"]["data"]["value"] == change.get(str(field))
    assert "metadata" in reply


def test_a_missing_access_token_is_a_missing_parameter(api: Api) -> None:
    reply = api.rpc("list.calls", {}, token=None)
    assert _error(reply) == (-32602, "required_parameter_missed", "access_token")


@pytest.mark.parametrize(
    ("token", "mnemonic"),
    [
        ("nobody", "access_token_invalid"),
        ("old", "access_token_expired"),
        ("bad", "access_token_blocked"),
    ],
)
def test_tokens_are_refused_without_limits(make_api: MakeApi, token: str, mnemonic: str) -> None:
    api = make_api(expired_tokens=frozenset({"old"}), blocked_tokens=frozenset({"bad"}))
    reply = api.rpc("list.calls", {}, token=token)
    assert _error(reply)[:2] == (-32001, mnemonic)
    assert "metadata" not in reply
    assert api.server.stats().points_spent == 0


def test_login_gives_a_session_token_that_lives_token_lifetime(make_api: MakeApi) -> None:
    api = make_api(login="ops", password="s3cret", token_lifetime=100)
    assert _error(api.rpc("login.user", {"login": "ops", "password": "nope"}, token=None))[:2] == (
        -32001,
        "auth_error",
    )
    data = api.rpc("login.user", {"login": "ops", "password": "s3cret"}, token=None)["result"][
        "data"
    ]
    assert data["expire_at"] == int(api.clock.now + 100)
    session = data["access_token"]
    assert "result" in api.rpc("list.calls", {}, token=session)
    api.clock.advance(100)
    assert _error(api.rpc("list.calls", {}, token=session))[:2] == (-32001, "access_token_invalid")


def test_logout_ends_a_session_token_but_not_a_permanent_key(api: Api) -> None:
    session = api.rpc("login.user", dict(EXAMPLES["login.user"]), token=None)["result"]["data"]
    token = session["access_token"]
    assert api.rpc("logout.user", {}, token=token)["result"]["data"] == {"success": True}
    assert _error(api.rpc("list.calls", {}, token=token))[1] == "access_token_invalid"
    assert "result" in api.rpc("logout.user", {})
    assert "result" in api.rpc("list.calls", {})


# --- objects of the account ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "change", "expected"),
    [
        (
            "start.informer_call",
            {"virtual_phone_number": "74990000000"},
            (-32007, "virtual_phone_number_not_found", "virtual_phone_number"),
        ),
        (
            "start.scenario_call",
            {"scenario_id": 999},
            (-32602, "scenario_not_found", "scenario_id"),
        ),
        (
            "start.employee_call",
            {"media_file_id": 999},
            (-32602, "media_file_not_found", "media_file_id"),
        ),
        (
            "start.scenario_call",
            {"contact_message": {"type": "media", "value": "999"}},
            (-32602, "media_file_not_found", "contact_message.value"),
        ),
        (
            "start.employee_call",
            {"employee": {"id": 999}},
            (-32602, "employee_not_found", "employee.id"),
        ),
        (
            "start.informer_call",
            {"contact": "74951045771"},
            (-32602, "own_virtual_phone_number_not_allowed", "contact"),
        ),
    ],
)
def test_unknown_objects_are_refused_as_the_docs_say(
    api: Api, method: str, change: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    reply = api.start(method, **change)
    assert _error(reply) == expected
    assert api.server.active_calls() == []


def test_extra_known_objects_are_accepted(make_api: MakeApi) -> None:
    api = make_api(virtual_numbers=frozenset({"74950000001"}), scenario_ids=frozenset({7}))
    assert "result" in api.start(
        "start.scenario_call", virtual_phone_number="74950000001", scenario_id=7
    )


def test_a_number_without_a_scenario_fails_the_vnumber_call_with_32007(make_api: MakeApi) -> None:
    api = make_api(numbers_without_scenario=frozenset({NUMBER}))
    assert _error(api.start("start.vnumber_call")) == (
        -32007,
        "scenario_not_found",
        "virtual_phone_number",
    )


def test_a_tts_text_over_the_limit_names_both_lengths(make_api: MakeApi) -> None:
    api = make_api(tts_max_length=10)
    reply = api.start(contact_message={"type": "tts", "value": "x" * 11})
    assert _error(reply) == (-32602, "tts_text_exceeded", "contact_message.value")
    assert reply["error"]["data"]["params"] == {
        "tts_message_max_length": 10,
        "sent_tts_message_length": 11,
    }
    assert reply["error"]["message"] == (
        "The maximum length of Text-to-Speech message is 10. The length of your message is 11"
    )
    assert "result" in api.start(contact_message={"type": "tts", "value": "x" * 10})


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("start.informer_call", -32602),
        ("start.scenario_call", -32602),
        ("start.vnumber_call", -32602),
        ("start.simple_call", -32002),
        ("start.employee_call", -32002),
    ],
)
def test_a_blacklisted_contact_gets_the_code_its_page_gives(
    make_api: MakeApi, method: str, code: int
) -> None:
    api = make_api(blacklist=frozenset({CONTACT}))
    reply = api.start(method)
    assert _error(reply) == (code, "contact_in_blacklist", "contact")
    assert reply["error"]["message"] == f"The contact {CONTACT} has been found in the blacklist"
    assert reply["error"]["data"]["params"] == {"contact": CONTACT}


# --- points ---------------------------------------------------------------------------------------


def test_points_are_spent_only_on_success(make_api: MakeApi) -> None:
    api = make_api(minute_limit=10, costs={"start.informer_call": 3})
    refused = api.start(virtual_phone_number="74990000000")
    assert refused["metadata"]["limits"]["minute_remaining"] == 10
    placed = api.start()
    assert placed["result"]["metadata"]["limits"]["minute_remaining"] == 7
    listed = api.rpc("list.calls", {})
    assert listed["result"]["metadata"]["limits"]["minute_remaining"] == 6
    stats = api.server.stats()
    assert (stats.points_spent, stats.minute_points_spent, stats.day_points_spent) == (4, 4, 4)
    assert (stats.requests, stats.succeeded) == (3, 2)


def test_the_minute_limit_is_exceeded_then_resets_with_its_window(make_api: MakeApi) -> None:
    api = make_api(minute_limit=2, window_seconds=10)
    api.rpc("list.calls", {})
    api.clock.advance(4)
    second = api.rpc("list.calls", {})["result"]["metadata"]["limits"]
    assert (second["minute_remaining"], second["minute_reset"]) == (0, 6.0)
    refused = api.rpc("list.calls", {})
    assert _error(refused) == (-32029, "limit_exceeded", None)
    assert refused["error"]["message"] == (
        "Limit per minute has been exceeded. Value of current limit per minute is 2"
    )
    assert refused["error"]["data"]["params"] == {"limit_type": "minute", "limit_max_value": 2}
    assert refused["metadata"]["limits"]["minute_reset"] == 6.0
    assert api.server.stats().limit_exceeded == 1
    api.clock.advance(6)
    after = api.rpc("list.calls", {})["result"]["metadata"]["limits"]
    assert (after["minute_remaining"], after["minute_reset"]) == (1, 10.0)
    assert after["day_remaining"] == after["day_limit"] - 3


def test_the_windows_are_fixed_and_start_at_the_first_request(make_api: MakeApi) -> None:
    api = make_api(minute_limit=3, window_seconds=10)
    api.clock.advance(25)
    assert api.server.limits().minute_reset == 10.0  # looking starts nothing
    api.rpc("list.calls", {})
    api.clock.advance(4)
    assert api.server.limits().minute_reset == 6.0
    api.clock.advance(21)  # two whole windows and 5 s later: the window started 20 s later
    limits = api.server.limits()
    assert (limits.minute_reset, limits.minute_remaining) == (5.0, 3)
    assert limits.day_remaining == limits.day_limit - 1


def test_the_day_limit_is_named_when_it_runs_out(make_api: MakeApi) -> None:
    api = make_api(minute_limit=100, day_limit=1)
    api.rpc("list.calls", {})
    refused = api.rpc("list.calls", {})
    assert refused["error"]["data"]["params"] == {"limit_type": "day", "limit_max_value": 1}


def test_the_budget_holds_under_concurrent_requests(make_api: MakeApi) -> None:
    api = make_api(minute_limit=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        reply = api.http.post(api.server.url, json=_list_calls_request()).json()
        with lock:
            outcomes.append("ok" if "result" in reply else reply["error"]["data"]["mnemonic"])

    threads = [threading.Thread(target=one) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 10
    assert outcomes.count("limit_exceeded") == 15


# --- calls ----------------------------------------------------------------------------------------


def test_a_placed_call_is_listed_until_it_ends(make_api: MakeApi) -> None:
    api = make_api(call_duration=30)
    call_id = api.start(external_id="att-1", direction="out")["result"]["data"]["call_session_id"]
    listed = api.rpc("list.calls", {})["result"]["data"]
    assert len(listed) == 1
    call = listed[0]
    assert call["call_session_id"] == call_id
    assert call["external_id"] == "att-1"
    assert (call["direction"], call["virtual_phone_number"], call["contact_phone_number"]) == (
        "out",
        NUMBER,
        CONTACT,
    )
    assert call["start_time"] == "2023-11-14 22:13:20"
    assert call["tags"] == []
    assert call["legs"][0]["called_phone_number"] == CONTACT
    api.clock.advance(30)
    assert api.rpc("list.calls", {})["result"]["data"] == []


def test_list_calls_filters_by_direction_and_virtual_number(make_api: MakeApi) -> None:
    api = make_api(virtual_numbers=frozenset({NUMBER, "74950000001"}))
    api.start(direction="in")
    api.start(direction="out", virtual_phone_number="74950000001")

    def ids(**filters: str) -> int:
        return len(api.rpc("list.calls", filters)["result"]["data"])

    assert (ids(), ids(direction="in"), ids(direction="out"), ids(virtual_phone_number=NUMBER)) == (
        2,
        1,
        1,
        1,
    )


def test_release_call_ends_a_call_and_refuses_an_unknown_one(api: Api) -> None:
    call_id = api.start()["result"]["data"]["call_session_id"]
    assert (
        api.rpc("release.call", {"call_session_id": call_id})["result"]["data"]["success"] == "true"
    )
    assert api.server.active_calls() == []
    again = api.rpc("release.call", {"call_session_id": call_id})
    assert _error(again) == (-32602, "call_session_not_found", "call_session_id")
    assert "metadata" in again


def test_block_contact_blacklists_the_caller(api: Api) -> None:
    call_id = api.start()["result"]["data"]["call_session_id"]
    assert "result" in api.rpc("block.contact", {"call_session_id": call_id})
    assert CONTACT in api.server.blacklist()
    assert _error(api.rpc("block.contact", {"call_session_id": call_id}))[1] == "duplicate_contact"
    assert _error(api.start())[1] == "contact_in_blacklist"


def test_tag_call_tags_a_listed_call_once(api: Api) -> None:
    call_id = api.start()["result"]["data"]["call_session_id"]
    assert "result" in api.rpc("tag.call", {"call_session_id": call_id, "tag_id": 456})
    assert api.rpc("list.calls", {})["result"]["data"][0]["tags"] == [
        {"tag_id": 456, "tag_name": "Целевой"}
    ]
    assert (
        _error(api.rpc("tag.call", {"call_session_id": call_id, "tag_id": 456}))[1]
        == "duplicate_tag"
    )
    assert (
        _error(api.rpc("tag.call", {"call_session_id": call_id, "tag_id": 1}))[1] == "tag_not_found"
    )


# --- faults ---------------------------------------------------------------------------------------


def test_an_injected_5xx_is_an_html_page_and_costs_nothing(api: Api) -> None:
    api.server.inject(Fault.HTTP_5XX)
    response = api.http.post(api.server.url, json=_list_calls_request())
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert api.server.stats().points_spent == 0
    assert "result" in api.rpc("list.calls", {})


def test_an_injected_internal_error_has_limits_and_costs_nothing(api: Api) -> None:
    api.server.inject(Fault.INTERNAL, method="start.informer_call")
    assert "result" in api.rpc("list.calls", {})
    reply = api.start()
    assert _error(reply)[:2] == (-32603, "internal_error")
    assert reply["metadata"]["limits"]["minute_remaining"] == 59
    assert api.server.active_calls() == []


def test_a_cut_after_create_drops_the_connection_after_placing_the_call(api: Api) -> None:
    api.server.inject(Fault.CUT_AFTER_CREATE)
    with pytest.raises(httpx.RemoteProtocolError):
        api.http.post(api.server.url, json=_start_request(external_id="cut-1"))
    [call] = api.server.active_calls()
    assert call.external_id == "cut-1"
    assert api.server.stats().points_spent == 1
    assert api.server.request_log()[-1].fault == "cut_after_create"


def _start_request(**params: Any) -> dict[str, Any]:
    full = {**_example("start.informer_call"), "access_token": TOKEN, **params}
    return {"jsonrpc": "2.0", "id": "s", "method": "start.informer_call", "params": full}


def test_a_slow_answer_comes_after_the_call_was_placed(make_api: MakeApi) -> None:
    api = make_api(slow_rate=1.0, slow_seconds=0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.http.post(api.server.url, json=_start_request(external_id="slow-1"), timeout=0.1)
    assert [call.external_id for call in api.server.active_calls()] == ["slow-1"]


def test_fault_rates_follow_the_seed(make_api: MakeApi) -> None:
    def statuses(seed: int) -> list[int]:
        api = make_api(fail_rate_5xx=0.5, seed=seed)
        return [
            api.http.post(api.server.url, json=_list_calls_request()).status_code for _ in range(12)
        ]

    first = statuses(3)
    assert first == statuses(3)
    assert set(first) == {200, 503}


# --- the log --------------------------------------------------------------------------------------


def test_the_log_file_has_every_request_and_no_secret(make_api: MakeApi, tmp_path: Path) -> None:
    log = tmp_path / "fake.jsonl"
    api = make_api(
        login="ops", password="pa55-secret", access_tokens=frozenset({"key-secret-1"}), log_path=log
    )
    session = api.rpc("login.user", {"login": "ops", "password": "pa55-secret"}, token=None)
    token = session["result"]["data"]["access_token"]
    params = {k: v for k, v in _example("start.informer_call").items() if k != "access_token"}
    placed = api.rpc("start.informer_call", params, token=token)
    api.rpc("list.calls", {}, token="key-secret-1")
    api.post("{broken")
    api.server.stop()
    text = log.read_text(encoding="utf-8")
    for secret in ("pa55-secret", "key-secret-1", token):
        assert secret not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [e["outcome"] for e in entries] == ["ok", "ok", "ok", "parse_error"]
    assert entries[1]["call_session_id"] == placed["result"]["data"]["call_session_id"]
    assert entries[1]["params"]["access_token"] == "***"
    assert set(entries[1]["limits"]) == LIMIT_KEYS
    assert entries[3]["limits"] is None
    assert {"time", "method", "id", "params", "outcome", "fault"} <= set(entries[0])


# --- the command ----------------------------------------------------------------------------------


def test_the_command_documents_the_default_token() -> None:
    import dialer.cli.fake_api  # noqa: F401  (registers the command)

    result = CliRunner().invoke(app, ["fake-api", "--help"])
    assert result.exit_code == 0
    assert "test-token" in result.output
