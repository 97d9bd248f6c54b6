"""The HS256 codec, and the memory of tokens that verified."""

from __future__ import annotations

import datetime

import jwt
import pytest

from adapters.security.jwt_codec import PyJwtCodec

SECRET = "s" * 43
NOW = 1_800_000_000.0


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall(monkeypatch):
    """One clock for the codec and for PyJWT (which reads ``datetime.now`` in api_jwt)."""
    clock = Wall()

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(clock.now, tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", Frozen)
    return clock


@pytest.fixture
def verifications(monkeypatch):
    """Counts the signature checks PyJWT is asked to make."""
    calls = []
    real = jwt.decode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return calls


def token(exp_in_s: float = 600, secret: str = SECRET, **claims) -> str:
    return jwt.encode({"sub": "ops", "iat": int(NOW), "exp": int(NOW + exp_in_s), **claims},
                      secret, algorithm="HS256")


def test_a_token_that_verified_is_not_checked_again(wall, verifications):
    codec = PyJwtCodec(wall_clock=wall)
    good = token()
    assert codec.decode(good, SECRET)["sub"] == "ops"
    wall.now += 300
    assert codec.decode(good, SECRET)["sub"] == "ops"
    assert verifications == [good]


def test_a_remembered_token_still_expires_with_the_same_leeway_rule(wall):
    codec = PyJwtCodec(wall_clock=wall)
    good = token(exp_in_s=60)
    assert codec.decode(good, SECRET, leeway_s=30) is not None
    wall.now = NOW + 89
    assert codec.decode(good, SECRET, leeway_s=30) is not None
    wall.now = NOW + 90  # exp + leeway: PyJWT calls it expired too
    assert codec.decode(good, SECRET, leeway_s=30) is None


def test_a_remembered_token_does_not_verify_under_another_secret(wall):
    codec = PyJwtCodec(wall_clock=wall)
    good = token()
    assert codec.decode(good, SECRET) is not None
    assert codec.decode(good, "t" * 43) is None


def test_failures_are_not_remembered_and_forged_tokens_never_verify(wall, verifications):
    codec = PyJwtCodec(wall_clock=wall)
    forged = token(secret="f" * 43)
    unsigned = jwt.encode({"sub": "ops", "exp": int(NOW + 60)}, None, algorithm="none")
    for bad in (forged, forged, unsigned, "not.a.token", "\ud800", ""):
        assert codec.decode(bad, SECRET) is None
    assert verifications.count(forged) == 2


def test_callers_cannot_change_what_is_remembered(wall):
    codec = PyJwtCodec(wall_clock=wall)
    good = token(role="admin")
    codec.decode(good, SECRET)["role"] = "system"  # type: ignore[index]
    assert codec.decode(good, SECRET)["role"] == "admin"


def test_the_memory_is_bounded_oldest_use_first(wall, verifications):
    codec = PyJwtCodec(cache_size=2, wall_clock=wall)
    a, b, c = token(n=1), token(n=2), token(n=3)
    for t in (a, b, a, c):  # a was used after b, so b is the one forgotten
        codec.decode(t, SECRET)
    verifications.clear()
    for t in (a, c, b):
        codec.decode(t, SECRET)
    assert verifications == [b]

