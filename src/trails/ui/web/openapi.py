"""/api/openapi.json: the OpenAPI 3.1 description of the HTTP API, generated from the endpoint table
(api.ENDPOINTS) and the msgspec types every front end shares (trails.api.types)."""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec

from trails import __version__
from trails.api import types as t
from trails.ui.web.api import ENDPOINTS, Endpoint

REF = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{(\w+)}")


class ErrorDetail(msgspec.Struct, kw_only=True):
    code: str  # the engine's stable error code (the CLI's --json errors use the same)
    message: str
    hint: str | None = None
    field: str | None = None  # the request field to blame, for a form
    files: list[str] | None = None  # a merge's or rebase's conflicting files


class ErrorBody(msgspec.Struct, kw_only=True):
    error: ErrorDetail


SOCKETS = {
    "/api/events": "WebSocket. `?since=ID&session=NAME` (HOST:NAME: a remote host's). Each message is one EventInfo "
                   "(JSON): the stored events after `since`, then live ones; a remote host's carry `host`.",
    "/api/sessions/{name}/terminal": "WebSocket bridged to the session's tmux pane. `?cols=&rows=`. Server: "
                                     "{type: output, data: base64} | {type: size, cols, rows} | {type: exit, reason} "
                                     "| {type: error, code, message}. Page: {type: input, data: text} | "
                                     "{type: resize, cols, rows}. A read-only token gets output only.",
    "/api/sessions/{name}/shell": "WebSocket: a shell of its own in the session's worktree, the same frames. "
                                  "Not for a read-only token.",
}

DESCRIPTION = """The trails engine's typed API over HTTP (JSON). Every error answers
`{"error": {"code", "message", "hint", "field"}}` with the engine's stable code.

Access: a token, as `Authorization: Bearer TOKEN` or the `trails_token` cookie (`/?token=TOKEN` sets it).
State-changing requests (POST) made with the cookie need the header `X-Trails-CSRF: 1`; a read-only token
gets 403 `not_permitted` for them. A foreign `Origin` or a `Host` that is not the server's address: 403.
"""


def _schema_of(endpoint: Endpoint) -> list[type]:
    kinds: list[type] = [endpoint.answers]
    if endpoint.request is not None:
        kinds.append(endpoint.request)
    if endpoint.body is not None:
        kinds.append(endpoint.body)
    return kinds


def _query_parameters(endpoint: Endpoint, components: dict[str, Any], in_path: list[str]) -> list[dict[str, Any]]:
    if endpoint.request is None:
        return [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in endpoint.query]
    schema = components[endpoint.request.__name__]
    fixed = {name for name, _ in endpoint.fixed}
    return [{"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            for name, prop in schema["properties"].items() if name != "op" and name not in {*in_path, *fixed}]


def _body(endpoint: Endpoint, components: dict[str, Any], in_path: list[str]) -> dict[str, Any] | None:
    if endpoint.body is not None:
        schema: dict[str, Any] = {"$ref": REF.format(name=endpoint.body.__name__)}
    elif endpoint.request is not None:
        schema = copy.deepcopy(components[endpoint.request.__name__])
        drop = {"op", *in_path, *(name for name, _ in endpoint.fixed)}
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in drop}
        schema["required"] = [k for k in schema.get("required", []) if k not in drop]
        schema["title"] = f"{endpoint.request.__name__}Body"
    else:
        return None
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    in_path = _PATH_PARAM.findall(endpoint.path)
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in in_path]
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": (endpoint.request.op_name() if endpoint.request is not None
                        else endpoint.handler.__name__ if endpoint.handler is not None else endpoint.path),
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": REF.format(name=endpoint.answers.__name__)}}}},
            "default": {"description": "An error", "content": {"application/json": {
                "schema": {"$ref": REF.format(name="ErrorBody")}}}},
        },
    }
    if endpoint.method == "GET":
        params += _query_parameters(endpoint, components, in_path)
    else:
        body = _body(endpoint, components, in_path)
        if body is not None:
            op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def spec() -> dict[str, Any]:
    kinds: list[type] = [ErrorBody, t.EventInfo]
    for endpoint in ENDPOINTS:
        kinds += [k for k in _schema_of(endpoint) if k not in kinds]
    _, components = msgspec.json.schema_components(kinds, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    for path, text in SOCKETS.items():
        paths.setdefault(path, {})["x-websocket"] = {"description": text}
    return {
        "openapi": "3.1.0",
        "info": {"title": "trails", "version": __version__, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "trails_token"}},
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
