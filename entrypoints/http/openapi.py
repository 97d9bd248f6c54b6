"""The OpenAPI 3 document, generated from the same marshmallow schemas the edge uses."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from entrypoints.http.schemas import admin as a
from entrypoints.http.schemas import instances as i
from entrypoints.http.schemas.common import ProblemSchema

INSTANCES = "/api/channels/whatsapp/instances"
# (path, method, summary, request schema, success status, response schema)
OPERATIONS: list[tuple[str, str, str, Any, int, Any]] = [
    (f"{INSTANCES}/quick-create", "post", "Create an instance in one call",
     i.QuickCreateRequest, 201,
     i.QuickCreateResponse),
    (INSTANCES, "get", "List instances", None, 200, i.InstancePage),
    (f"{INSTANCES}/{{id}}", "get", "Get an instance", None, 200, i.InstanceSchema),
    (f"{INSTANCES}/{{id}}", "delete", "Delete in Evolution, keep the history", None, 204, None),
    (f"{INSTANCES}/{{id}}/connect", "post", "Current QR", None, 200, i.ConnectResponse),
    (f"{INSTANCES}/{{id}}/qr/stream", "get", "QR stream (text/event-stream)", None, 200, None),
    (f"{INSTANCES}/{{id}}/status", "get", "Live state from Evolution", None, 200, i.StatusResponse),
    (f"{INSTANCES}/{{id}}/restart", "post", "Restart the socket", None, 202, i.InstanceSchema),
    (f"{INSTANCES}/{{id}}/logout", "post", "Log out of WhatsApp", None, 200, i.InstanceSchema),
    (f"{INSTANCES}/{{id}}/messages", "get", "Message history", None, 200, i.MessagePage),
    ("/api/whatsapp/instances/{id}/connect", "post", "Deprecated connect", None, 200,
     i.ConnectResponse),
    ("/api/whatsapp/instances/{id}/qr/stream", "get", "Deprecated QR stream", None, 200, None),
    ("/api/webhooks/evolution/{orgId}", "post", "Evolution webhook", None, 200, a.WebhookAck),
    ("/api/whatsapp/webhook", "post", "Legacy webhook", None, 200, a.WebhookAck),
    ("/api/whatsapp/simple/webhook/{orgId}", "post", "Simple webhook", None, 200, a.WebhookAck),
    ("/api/channels/whatsapp/webhook", "post", "Unified webhook", None, 200, a.WebhookAck),
    ("/api/admin/feature-flags", "get", "List flags", None, 200, a.FlagList),
    ("/api/admin/feature-flags", "post", "Kill switch / bulk toggle", None, 200, a.FlagList),
    ("/api/admin/feature-flags/{name}", "put", "Configure a flag", a.FlagPutRequest, 200,
     a.FlagSchema),
    ("/api/admin/feature-flags/{name}/advance", "post", "Next rollout stage", None, 200,
     a.FlagSchema),
    ("/api/feature-flags/evaluate", "get", "Evaluate flags for an organization", None, 200,
     None),
    ("/api/admin/audit", "get", "Audit events", None, 200, a.AuditPage),
    ("/api/admin/audit/verify", "get", "Verify the hash chain", None, 200, a.VerifyResponse),
    ("/api/admin/organizations/{orgId}/webhook-secret/rotate", "post", "Rotate webhook secret",
     None, 201, a.RotateResponse),
    ("/api/health", "get", "Liveness", None, 200, None),
    ("/api/health/ready", "get", "Readiness", None, 200, None),
]


@cache
def openapi_document() -> dict[str, Any]:
    spec = APISpec("wachannel", "0.1.0", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, request, status, response in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {
            str(status): _content(response) if response else {"description": "OK"},
            "default": {"description": "Problem",
                        "content": {"application/problem+json": {"schema": "Problem"}}}}}
        if request is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": request}}}
        paths.setdefault(path, {})[method] = op
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _content(schema: Any) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
