"""Request limits, applied before any route or middleware parses a body.

A pure ASGI middleware (outside the idempotency middleware, which reads whole bodies):
- a size cap per request, checked on Content-Length and again while reading (chunked bodies),
  so nothing larger than the cap is ever held in memory (413);
- JSON bodies must be strict JSON: no NaN/Infinity tokens, no number that overflows to
  infinity, no integer beyond +-2**53 (not exact in JavaScript or in float64 back ends), no
  lone surrogate or NUL character (PostgreSQL text and JSON cannot hold them), nesting at
  most MAX_DEPTH, at most MAX_KEYS members per object, strings at most MAX_STRING characters
  (policy uploads: a whole file); 422 names the offending path.
- customer records (PUT and the batch) are checked by the record contract instead, with its
  field paths (one bad record of a batch is reported and the rest stored), so only their
  size, syntax and depth are judged here.
Path parameters are bounded too: a segment longer than MAX_SEGMENT or holding a control
character is refused before a route could hand it to a store column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from starlette.requests import Request

from api.errors import ApiError, problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_DEPTH = 32
MAX_KEYS = 500
MAX_ITEMS = 10_000
MAX_STRING = 10_000
MAX_SEGMENT = 200  # the longest id in a path is a workflow id (String(200))
MAX_INT = 2**53
# routes whose bodies are big by nature (bulk records, policy files); they get the bulk cap
BULK_PATHS = ("/v1/customers:batch", "/v1/policies", "/web/policies")
# customer records (one, or a batch) are judged by the record contract, field by field
PER_RECORD_PATHS = ("/v1/customers:batch", "/v1/customers/")


class Refused(Exception):
    """A body the limits refuse: HTTP status, title and field errors."""

    def __init__(self, status: int, title: str, path: str = "body", message: str = "") -> None:
        super().__init__(message or title)
        self.status, self.title, self.path, self.message = status, title, path, message


def _bad_constant(token: str) -> Any:
    raise Refused(422, "Invalid JSON", "body", f"{token} is not a JSON number")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise Refused(422, "Invalid JSON", "body", f"{token[:40]} is out of range")
    return value


def parse_strict(raw: bytes) -> Any:
    """JSON without NaN/Infinity and without numbers that overflow (Refused otherwise)."""
    try:
        return json.loads(raw, parse_constant=_bad_constant, parse_float=_finite_float)
    except RecursionError as err:
        raise Refused(422, "Invalid JSON", "body", f"nested deeper than {MAX_DEPTH}") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, int digits limit
        raise Refused(422, "Invalid JSON", "body", f"not JSON: {str(err)[:120]}") from err


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "NUL characters are not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "lone surrogate characters are not allowed"
    return None


def check_value(data: Any, *, strings: bool, max_string: int) -> None:
    """Walk `data` iteratively (no recursion on hostile depth); raise Refused at a path."""
    stack: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(422, "Invalid request", path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            if strings and len(value) > MAX_KEYS:
                raise Refused(422, "Invalid request", path, f"more than {MAX_KEYS} members")
            for key, item in value.items():
                sub = f"{path}.{key}"
                if strings and (problem := _text_problem(key) or _long(key, 200)):
                    raise Refused(422, "Invalid request", path, f"member name: {problem}")
                stack.append((item, sub, depth + 1))
        elif isinstance(value, list):
            if strings and len(value) > MAX_ITEMS:
                raise Refused(422, "Invalid request", path, f"more than {MAX_ITEMS} items")
            stack.extend((item, f"{path}.{i}", depth + 1) for i, item in enumerate(value))
        elif strings and isinstance(value, str):
            if problem := _text_problem(value) or _long(value, max_string):
                raise Refused(422, "Invalid request", path, problem)
        elif strings and isinstance(value, int) and abs(value) > MAX_INT:
            raise Refused(422, "Invalid request", path, "integer beyond +-2**53")


def _long(value: str, limit: int) -> str | None:
    return f"longer than {limit} characters" if len(value) > limit else None


def _check_path(path: str) -> None:
    for segment in path.split("/"):
        text = unquote(segment)
        if len(text) > MAX_SEGMENT:
            raise Refused(422, "Invalid path", "path", f"a segment longer than {MAX_SEGMENT}")
        if any(ord(c) < 32 or ord(c) == 127 for c in text) or _text_problem(text):
            raise Refused(422, "Invalid path", "path", "control characters in the path")


class RequestLimits:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: App, max_body: int, max_bulk_body: int) -> None:
        self.app, self.max_body, self.max_bulk_body = app, max_body, max_bulk_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        try:
            _check_path(path)
            if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
                await self.app(scope, receive, send)
                return
            bulk = path.startswith(BULK_PATHS)
            cap = self.max_bulk_body if bulk else self.max_body
            body = await _read(scope, receive, cap)
            ctype = _header(scope, b"content-type")
            if body and (ctype.startswith("application/json") or ctype.endswith("+json")):
                per_record = path.startswith(PER_RECORD_PATHS)
                max_string = self.max_bulk_body if bulk else MAX_STRING
                data = parse_strict(body)
                check_value(data, strings=not per_record, max_string=max_string)
        except Refused as err:
            await _refuse(scope, send, err)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # a disconnect, as the app would have seen it
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1")).lower()
    return ""


async def _read(scope: Scope, receive: Receive, cap: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > cap:
        raise Refused(413, "Request too large", "body", f"at most {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise Refused(413, "Request too large", "body", f"at most {cap} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _refuse(scope: Scope, send: Send, err: Refused) -> None:
    request = Request(scope)
    errors = [{"path": err.path, "message": err.message}] if err.message else []
    response = problem_response(request, ApiError(err.status, err.title, err.message, errors))
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def install(app: FastAPI, max_body: int, max_bulk_body: int) -> None:
    """Add the limits; call after the middlewares that read bodies (so it runs before them)."""
    app.add_middleware(RequestLimits, max_body=max_body, max_bulk_body=max_bulk_body)
