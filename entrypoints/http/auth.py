"""Bearer JWT authentication of management routes (API.md section 2)."""

from __future__ import annotations

import time

from aiohttp import web

from application.errors import Forbidden, Unauthenticated
from application.ports.tokens import JwtCodec
from domain.access import Actor, Role, claims_problem

TENANT_ROLES = frozenset({Role.ADMIN, Role.TENANT_ADMIN})
ADMIN = frozenset({Role.ADMIN})
OPERATORS = frozenset({Role.ADMIN, Role.SYSTEM})
JWT_KEY = web.AppKey("jwt_codec", JwtCodec)
JWT_SECRET_KEY = web.AppKey("jwt_secret", str)
TOKEN_COOKIE = "wachannel_token"  # noqa: S105 (a cookie name)


def _token(request: web.Request, allow_browser: bool) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if allow_browser:  # pages opened in a browser cannot set headers
        return request.cookies.get(TOKEN_COOKIE) or request.query.get("token")
    return None


def authenticate(request: web.Request, roles: frozenset[Role],
                 allow_browser: bool = False) -> Actor:
    return token_actor(request, _token(request, allow_browser), roles)


def token_actor(request: web.Request, token: str | None, roles: frozenset[Role]) -> Actor:
    """The caller ``token`` names, whichever way it came (a header, a cookie, a form)."""
    claims = request.app[JWT_KEY].decode(token, request.app[JWT_SECRET_KEY]) if token else None
    if not claims:
        raise Unauthenticated("a valid bearer token is required")
    problem = claims_problem(claims, time.time())
    if problem is not None:
        raise Unauthenticated(problem)
    role = Role(claims["role"])
    if role not in roles:
        raise Forbidden(f"role {role} may not call this route")
    return Actor(claims["sub"], role, claims.get("org"), request.remote,
                 request.headers.get("User-Agent"))
