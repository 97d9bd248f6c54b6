"""RFC 9457 problem documents: one table from error type to status and slug."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from application import errors as e
from domain.backup import BackupRefused
from domain.errors import InvalidEnvelope, InvalidFlag
from entrypoints.http.keys import REQUEST_ID

PROBLEM_JSON = "application/problem+json"

# Resolved along the MRO, so a subclass listed before its base wins.
PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    e.NotFound: (404, "not-found", "Not found"),
    e.Forbidden: (403, "forbidden", "Forbidden"),
    e.Unauthenticated: (401, "unauthenticated", "Authentication required"),
    e.InstanceLimitReached: (409, "instance-limit", "Instance limit reached"),
    e.RolloutUnhealthy: (409, "rollout-unhealthy", "Rollout is unhealthy"),
    e.Conflict: (409, "conflict", "Conflict"),
    e.IdempotencyMismatch: (422, "idempotency-mismatch", "Idempotency-Key reused"),
    e.FeatureDisabled: (403, "feature-disabled", "Feature disabled"),
    e.ValidationFailed: (422, "validation", "Validation failed"),
    e.MalformedJson: (400, "malformed-json", "Malformed JSON"),
    e.UpstreamError: (502, "evolution-error", "Evolution API refused the request"),
    e.UpstreamTimeout: (504, "evolution-timeout", "Evolution API timed out"),
    e.UpstreamUnavailable: (503, "evolution-unavailable", "Evolution API unavailable"),
    e.RateLimited: (429, "rate-limited", "Too many requests"),
    e.StorageUnavailable: (503, "storage-unavailable", "Storage unavailable"),
    InvalidEnvelope: (422, "validation", "Validation failed"),
    InvalidFlag: (422, "validation", "Validation failed"),
    BackupRefused: (422, "backup-refused", "Backup refused"),
}
# The client left before its answer (nginx's 499): counted apart from our own failures.
CLIENT_GONE = 499
# Problems raised by the HTTP layer itself rather than by a use case.
EDGE_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    408: ("request-timeout", "Request timeout"),
    413: ("payload-too-large", "Payload too large"),
    414: ("uri-too-long", "Request line too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
    417: ("expectation-failed", "Expectation failed"),
    431: ("header-too-large", "Request header fields too large"),
    499: ("client-closed-request", "Client closed the request"),
    500: ("internal", "Internal server error"),
}


def lookup(exc: Exception) -> tuple[int, str, str] | None:
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return None


def problem(status: int, slug: str, title: str, detail: str | None, request: web.Request,
            **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status,
                            "instance": request.path, "code": slug,
                            "request_id": request.get(REQUEST_ID)}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if "retry_after_s" in extra and extra["retry_after_s"] is not None:
        headers["Retry-After"] = str(int(extra.pop("retry_after_s")))
        body.pop("retry_after_s", None)
    return web.json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)


def from_exception(exc: Exception, request: web.Request) -> web.Response | None:
    found = lookup(exc)
    if found is None:
        return None
    status, slug, title = found
    detail = getattr(exc, "detail", None) or str(exc) or None
    errors = getattr(exc, "errors", None)
    retry = getattr(exc, "retry_after_s", None)
    return problem(status, slug, title, detail, request, errors=errors, retry_after_s=retry)
