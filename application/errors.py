"""Every error a use case or an adapter may surface above the adapters layer.

The HTTP edge maps each class to one problem type (entrypoints/http/problems.py); nothing
above the adapters ever sees a driver exception.
"""

from __future__ import annotations


class ApplicationError(Exception):
    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ApplicationError):
    """The resource does not exist, or exists in an organization the caller cannot see."""


class Forbidden(ApplicationError):
    """The caller is known but may not do this (for instance, name another organization)."""


class Unauthenticated(ApplicationError):
    """No credentials, or credentials that do not verify."""


class Conflict(ApplicationError):
    """The request contradicts the current state of a resource."""


class InstanceLimitReached(Conflict):
    """The organization already holds ``MAX_INSTANCES_PER_ORG`` active instances."""


class IdempotencyMismatch(ApplicationError):
    """An ``Idempotency-Key`` reused with a different request body."""


class FeatureDisabled(ApplicationError):
    """The rollout flag gating this path is off for the organization."""


class RolloutUnhealthy(Conflict):
    """A rollout cannot advance while the flagged path's error rate is too high."""


class ValidationFailed(ApplicationError):
    def __init__(self, errors: dict[str, list[str]], detail: str = "Invalid request") -> None:
        super().__init__(detail)
        self.errors = errors


class UpstreamError(ApplicationError):
    """Evolution answered, but refused the request; ``detail`` carries its message."""


class UpstreamTimeout(ApplicationError):
    """Evolution did not answer within the time allowed."""


class UpstreamUnavailable(ApplicationError):
    """Evolution cannot be called now (down, or its circuit is open); retry later."""

    def __init__(self, detail: str = "", retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class RateLimited(ApplicationError):
    def __init__(self, detail: str = "", retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class StorageUnavailable(ApplicationError):
    """The store cannot be reached; the caller may retry."""

    def __init__(self, detail: str = "", retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class MalformedJson(ApplicationError):
    """The body is not JSON at all."""
