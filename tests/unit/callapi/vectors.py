"""The request and reply examples of the Call API docs, transcribed as test vectors.

Sources: /work/shared/callapi-docs/call-api-v4.0.full.ru.md ("Пример запроса", "Пример ответа",
"Пример ошибки") and the separate per-method pages beside it. Where a separate page's example
differs from the reference, both are here and the comment says which one the schema follows.
"""

from __future__ import annotations

from typing import Any

DOC_TOKEN = "2fRN4g217ca0b4224a67988aff3e584f91964a692045415f36fa66146f5a3c1ae1f6093d"

REQUESTS: dict[str, dict[str, Any]] = {
    "login.user": {
        "jsonrpc": "2.0",
        "id": "req1",
        "method": "login.user",
        "params": {"login": "your_login", "password": "your_password"},
    },
    "logout.user": {
        "jsonrpc": "2.0",
        "id": "req1",
        "method": "logout.user",
        "params": {"access_token": DOC_TOKEN},
    },
    "start.employee_call": {
        "jsonrpc": "2.0",
        "method": "start.employee_call",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "first_call": "employee",
            "switch_at_once": True,
            "media_file_id": 2701,
            "show_virtual_phone_number": False,
            "virtual_phone_number": "74993720692",
            "external_id": "334otr01",
            "dtmf_string": ".1.2.3",
            "direction": "in",
            "contact": "79260000000",
            "employee": {"id": 25, "phone_number": "79260000001"},
            "contact_message": {"type": "tts", "value": "Привет"},
            "employee_message": {"type": "media", "value": "2561"},
        },
    },
    "start.scenario_call": {
        "jsonrpc": "2.0",
        "method": "start.scenario_call",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "virtual_phone_number": "74993720692",
            "external_id": "34rty567",
            "dtmf_string": "..1.2.3",
            "contact": "79260000000",
            "first_call": "employee",
            "switch_at_once": False,
            "scenario_id": 23456,
            "direction": "in",
            "contact_message": {"type": "media", "value": "237"},
        },
    },
    "start.vnumber_call": {
        "jsonrpc": "2.0",
        "method": "start.vnumber_call",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "virtual_phone_number": "74993720692",
            "external_id": "34rty567",
            "dtmf_string": "..1.2.3",
            "direction": "in",
            "contact": "79260000000",
            "first_call": "employee",
            "switch_at_once": False,
            "show_virtual_phone_number": True,
            "contact_message": {"type": "media", "value": "237"},
        },
    },
    "start.informer_call": {
        "jsonrpc": "2.0",
        "method": "start.informer_call",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "virtual_phone_number": "74993720692",
            "external_id": "34rty567",
            "dtmf_string": "..1.2.3",
            "direction": "in",
            "dialing_timeout": 25,
            "contact": "79260000000",
            "contact_message": {"type": "tts", "value": "Тестовое сообщение"},
        },
    },
    # The English start.simple_call page: `operator` is a number string. The schema follows it.
    "start.simple_call": {
        "jsonrpc": "2.0",
        "method": "start.simple_call",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "first_call": "operator",
            "switch_at_once": True,
            "media_file_id": 2701,
            "show_virtual_phone_number": False,
            "virtual_phone_number": "74993720692",
            "external_id": "334otr01",
            "dtmf_string": ".1.2.3",
            "direction": "in",
            "contact": "79260000000",
            "operator": "79262444491",
            "contact_message": {"type": "tts", "value": "Hello"},
            "operator_message": {"type": "media", "value": "2561"},
        },
    },
    "list.calls": {
        "jsonrpc": "2.0",
        "method": "list.calls",
        "id": "req1",
        "params": {
            "access_token": DOC_TOKEN,
            "direction": "in",
            "virtual_phone_number": "74951045771",
        },
    },
    "release.call": {
        "jsonrpc": "2.0",
        "method": "release.call",
        "id": "req1",
        "params": {"access_token": DOC_TOKEN, "call_session_id": 28575639},
    },
    "block.contact": {
        "jsonrpc": "2.0",
        "method": "block.contact",
        "id": "req1",
        "params": {"access_token": DOC_TOKEN, "call_session_id": 27485639},
    },
}

# The full reference's start.simple_call example gives `operator` as an employee-like object,
# contradicting its own table text ("the operator's number, E.164") and the English page.
SIMPLE_CALL_REFERENCE_PARAMS: dict[str, Any] = {
    **REQUESTS["start.simple_call"]["params"],
    "operator": {"id": 25, "phone_number": "79260000001"},
    "contact_message": {"type": "tts", "value": "Привет"},
}


def _data(data: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "req1", "result": {"data": data}}


REPLIES: dict[str, dict[str, Any]] = {
    "login.user": _data({"access_token": DOC_TOKEN, "expire_at": 1475853742}),
    "logout.user": _data({"success": True}),
    "start.employee_call": _data({"call_session_id": 237859081}),
    "start.scenario_call": _data({"call_session_id": 234568}),
    "start.vnumber_call": _data({"call_session_id": 123467589}),
    "start.informer_call": _data({"call_session_id": 1238694}),
    "start.simple_call": _data({"call_session_id": 237859081}),
    "list.calls": _data(
        [
            {
                "call_session_id": 206597836,
                "direction": "in",
                "start_time": "2016-10-19T12:26:48.418",
                "virtual_phone_number": "74951045771",
                "contact_phone_number": "74959268686",
                "external_id": None,
                "tags": [{"tag_id": 456, "tag_name": "Целевой"}],
                "legs": [
                    {
                        "leg_id": 287866245,
                        "calling_phone_number": "74951045771",
                        "called_phone_number": "74959268686...9.2.3.3",
                        "is_operator": False,
                        "employee_id": None,
                        "employee_full_name": None,
                        "record_call_enabled": True,
                        "state": "Разговор",
                    },
                    {
                        "leg_id": 287866221,
                        "calling_phone_number": "74959268686",
                        "called_phone_number": "79262444393",
                        "is_operator": True,
                        "employee_id": 2345,
                        "employee_full_name": "Тест",
                        "record_call_enabled": True,
                        "state": "Разговор",
                    },
                ],
            }
        ]
    ),
    # Both examples give `success` as the string "true".
    "release.call": _data({"success": "true"}),
    "block.contact": _data({"success": "true"}),
}

START_CALL_SESSION_IDS: dict[str, int] = {
    "start.employee_call": 237859081,
    "start.scenario_call": 234568,
    "start.vnumber_call": 123467589,
    "start.informer_call": 1238694,
    "start.simple_call": 237859081,
}

# "Пример ошибки" of the reference.
ERROR_EXAMPLE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {
        "code": -32602,
        "message": "Data supplied is of wrong type",
        "data": {
            "mnemonic": "data_type_error",
            "field": "contact",
            "value": "номер",
            "params": {"object": None},
            "extended_helper": None,
        },
    },
}

# The "Мета-параметры" structure, filled with plausible numbers.
LIMITS: dict[str, Any] = {
    "day_limit": 10000,
    "day_remaining": 9990,
    "day_reset": 43200,
    "minute_limit": 60,
    "minute_remaining": 55,
    "minute_reset": 42,
}
