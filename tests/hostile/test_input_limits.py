"""Hostile input against the served app on SQLite and PostgreSQL: oversized and chunked
bodies, deep JSON, NaN/Infinity/overflowing numbers, huge integers, NUL and lone surrogates,
strings beyond their columns, too many attributes, long path segments, hostile request ids.
Each is a 4xx problem+json naming its path; never a 500; nothing half stored; one bad record
of a batch is reported while the rest are stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.limits import MAX_DEPTH
from store.models import AuditEntry, Customer
from tests.e2e.conftest import Stack
from tests.faults.conftest import count
from tests.hostile.fixtures import hostile_store, hstack  # noqa: F401 (the fixtures)

pytestmark = pytest.mark.e2e

OK_RECORD = '{"tariff": "residential"}'
EVENT = '{"event_id": "%s", "customer_id": "HC1", "type": "payment_received", "data": %s}'


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (case, method, url, raw JSON body, status, a path the errors must name)
CASES: list[tuple[str, str, str, str, int, str]] = [
    ("nan_token", "POST", "/v1/events", EVENT % ("e1", '{"amount": NaN, "channel": "online"}'),
     422, "body"),
    ("infinity_token", "POST", "/v1/events",
     EVENT % ("e2", '{"amount": Infinity, "channel": "online"}'), 422, "body"),
    ("overflow_to_inf", "POST", "/v1/events",
     EVENT % ("e3", '{"amount": 1e400, "channel": "online"}'), 422, "body"),
    ("int_4300_digits", "PUT", "/v1/customers/HC2", '{"overdue_days": ' + "9" * 5000 + "}",
     422, "body"),
    ("int_beyond_2_53", "POST", "/v1/events",
     EVENT % ("e4", '{"amount": 9007199254740993, "channel": "online"}'), 422, "body.data.amount"),
    ("deep_json", "POST", "/v1/events",
     EVENT % ("e5", '{"x": ' + _nested(MAX_DEPTH + 5) + "}"), 422, "body.data.x"),
    ("very_deep_json", "PUT", "/v1/customers/HC2", _nested(200_000), 422, "body"),
    ("nul_in_event_id", "POST", "/v1/events",
     EVENT % ("e\\u0000", '{"amount": 1, "channel": "online"}'), 422, "body.event_id"),
    ("surrogate_in_event_id", "POST", "/v1/events",
     EVENT % ("e\\ud800", '{"amount": 1, "channel": "online"}'), 422, "body.event_id"),
    ("many_members", "POST", "/v1/events",
     EVENT % ("e6", "{" + ",".join(f'"k{i}": 1' for i in range(600)) + "}"), 422, "body.data"),
    ("long_string", "POST", "/v1/events",
     EVENT % ("e7", '{"amount": 1, "channel": "' + "x" * 20_000 + '"}'), 422,
     "body.data.channel"),
    ("nul_in_name", "PUT", "/v1/customers/HC2", '{"name": "a\\u0000b"}', 422, "name"),
    ("surrogate_in_name", "PUT", "/v1/customers/HC2", '{"name": "a\\udc00b"}', 422, "name"),
    ("name_too_long", "PUT", "/v1/customers/HC2", '{"name": "' + "n" * 201 + '"}', 422, "name"),
    ("feeder_too_long", "PUT", "/v1/customers/HC2", '{"feeder_id": "' + "f" * 65 + '"}', 422,
     "feeder_id"),
    ("too_many_attributes", "PUT", "/v1/customers/HC2",
     '{"attributes": {' + ",".join(f'"a{i}": {i}' for i in range(101)) + "}}", 422, "attributes"),
    ("attribute_text_too_long", "PUT", "/v1/customers/HC2",
     '{"attributes": {"note": "' + "z" * 1001 + '"}}', 422, "attributes.note"),
    ("customer_id_too_long", "PUT", "/v1/customers/" + "C" * 65, OK_RECORD, 422,
     "path.customer_id"),
    ("path_segment_too_long", "GET", "/v1/tasks/" + "t" * 300, "", 422, "path"),
    ("control_char_in_path", "GET", "/v1/customers/A%0AB", "", 422, "path"),
    ("not_json", "PUT", "/v1/customers/HC2", "{'a': 1}", 422, "body"),
]  # fmt: skip


@pytest.fixture
async def seeded(hstack: Stack) -> AsyncIterator[Stack]:  # noqa: F811
    r = await hstack.call("PUT", "/v1/customers/HC1", "crm", json={"tariff": "residential"})
    assert r.status_code == 200, r.text
    yield hstack


async def _send(stack: Stack, method: str, url: str, body: str, **kw: Any) -> Any:
    headers = {**stack.auth("admin"), "Content-Type": "application/json", **kw.pop("headers", {})}
    return await stack.http.request(
        method, url, content=body.encode("utf-8", "surrogatepass") or None, headers=headers, **kw
    )


async def test_hostile_bodies_are_refused_with_their_path(seeded: Stack) -> None:
    stack = seeded
    assert len(CASES) >= 10
    sessions = stack.app.state.segflow.sessions
    customers = count(sessions, Customer)
    for case, method, url, body, status, path in CASES:
        r = await _send(stack, method, url, body)
        assert r.status_code == status, (case, r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("application/problem+json"), case
        problem = r.json()
        assert problem["request_id"], case
        # the path names the value, or the value inside it where the limit was crossed
        paths = {e["path"] for e in problem["errors"]}
        assert any(p == path or p.startswith(path + ".") for p in paths), (case, paths)
        assert "Traceback" not in r.text
    assert count(sessions, Customer) == customers  # nothing half stored


async def test_body_size_cap_with_and_without_content_length(seeded: Stack) -> None:
    stack = seeded
    cap = stack.settings.max_body_bytes
    big = '{"name": "' + "x" * cap + '"}'
    r = await _send(stack, "PUT", "/v1/customers/HC3", big)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["errors"][0]["path"] == "body"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(cap // 65536 + 2):
            yield b" " * 65536  # whitespace: valid JSON padding, only the size is wrong

    headers = {**stack.auth("crm"), "Content-Type": "application/json"}
    r = await stack.http.put("/v1/customers/HC3", content=chunks(), headers=headers)
    assert r.status_code == 413, r.text[:300]
    with stack.app.state.segflow.sessions() as s:
        assert s.get(Customer, "HC3") is None
    # the idempotency middleware never sees a body over the cap either
    r = await _send(stack, "POST", "/v1/events", big, headers={"Idempotency-Key": "k-big"})
    assert r.status_code == 413


async def test_one_bad_record_in_a_batch_is_reported_the_rest_stored(seeded: Stack) -> None:
    stack = seeded
    body = (
        '[{"customer_id": "HB1", "tariff": "residential"},'
        ' {"customer_id": "HB2", "name": "a\\u0000b"},'
        ' {"customer_id": "HB3", "name": "\\ud800"},'
        ' {"customer_id": "HB4", "feeder_id": "' + "f" * 65 + '"},'
        ' {"customer_id": "HB5", "tariff": "commercial"}]'
    )
    r = await _send(stack, "POST", "/v1/customers:batch", body)
    assert r.status_code == 200, r.text[:500]
    out = r.json()
    assert (out["stored"], out["failed"]) == (2, 3)
    bad = {
        i["customer_id"]: {e["path"] for e in i["errors"]} for i in out["results"] if not i["ok"]
    }
    assert bad == {"HB2": {"name"}, "HB3": {"name"}, "HB4": {"feeder_id"}}
    with stack.app.state.segflow.sessions() as s:
        assert s.get(Customer, "HB1") is not None and s.get(Customer, "HB5") is not None
        assert s.get(Customer, "HB2") is None
    # a NaN token is not JSON: the whole batch is refused before any record is looked at
    r = await _send(stack, "POST", "/v1/customers:batch", '[{"customer_id": "HB6", "x": NaN}]')
    assert r.status_code == 422


async def test_request_ids_are_kept_only_when_plain(seeded: Stack) -> None:
    stack = seeded
    for sent, kept in [
        ("req-123.abc_X", True),
        ("step:" + "0" * 59, False),
        ("a b", False),
        ("x" * 65, False),
        ("<script>", False),
    ]:
        r = await stack.call("GET", "/v1/tasks", "agent", headers={"X-Request-Id": sent})
        assert r.status_code == 200
        assert (r.headers["X-Request-Id"] == sent) is kept, sent
    r = await stack.call(
        "PUT", "/v1/customers/HC4", "crm", json={"tariff": "residential"},
        headers={"X-Request-Id": "step:forged"},
    )  # fmt: skip
    assert r.status_code == 200
    with stack.app.state.segflow.sessions() as s:
        ids = {e.request_id for e in s.query(AuditEntry).filter_by(customer_id="HC4")}
    assert "step:forged" not in ids


async def test_long_idempotency_key_is_refused(seeded: Stack) -> None:
    r = await _send(
        seeded, "POST", "/v1/events", EVENT % ("e9", '{"amount": 1, "channel": "online"}'),
        headers={"Idempotency-Key": "k" * 201},
    )  # fmt: skip
    assert r.status_code == 422
