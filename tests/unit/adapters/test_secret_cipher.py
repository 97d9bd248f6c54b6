"""SecretCipher: authenticated encryption with key rotation by key id."""

from __future__ import annotations

import pytest

from adapters.crypto.cipher import CipherError, SecretCipher, generate_key

OLD, NEW = generate_key(), generate_key()


def test_a_value_round_trips_and_is_not_readable():
    cipher = SecretCipher(NEW)
    sealed = cipher.encrypt("s3cr3t-ção")
    assert "s3cr3t" not in sealed
    assert sealed.startswith("wac1:")
    assert cipher.decrypt(sealed) == "s3cr3t-ção"


def test_the_same_value_encrypts_differently_each_time():
    cipher = SecretCipher(NEW)
    assert cipher.encrypt("x") != cipher.encrypt("x")


def test_after_rotation_old_values_still_read_and_new_ones_use_the_new_key():
    old_value = SecretCipher(OLD).encrypt("before")
    rotated = SecretCipher(NEW, OLD)
    assert rotated.decrypt(old_value) == "before"
    assert SecretCipher(NEW).decrypt(rotated.encrypt("after")) == "after"
    with pytest.raises(CipherError, match="no configured key"):
        SecretCipher(OLD).decrypt(rotated.encrypt("after"))


def test_a_tampered_value_is_refused():
    sealed = SecretCipher(NEW).encrypt("amount=10")
    forged = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(CipherError):
        SecretCipher(NEW).decrypt(forged)


@pytest.mark.parametrize("key", ["", "not base64 !", "c2hvcnQ="])
def test_a_malformed_key_is_refused_at_construction(key):
    with pytest.raises(CipherError, match="DATA_ENCRYPTION_KEY"):
        SecretCipher(key)


@pytest.mark.parametrize("value", ["", "plain", "wac1:zz:abc", "wac1"])
def test_garbage_is_refused(value):
    with pytest.raises(CipherError):
        SecretCipher(NEW).decrypt(value)


def test_bytes_round_trip_and_tampering_is_refused():
    cipher = SecretCipher(generate_key())
    sealed = cipher.encrypt_bytes(b'{"text": "meu CPF"}')
    assert b"CPF" not in sealed
    assert cipher.decrypt_bytes(sealed) == b'{"text": "meu CPF"}'
    with pytest.raises(CipherError):
        cipher.decrypt_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_bytes_sealed_by_an_old_key_still_open_after_rotation():
    old, new = generate_key(), generate_key()
    sealed = SecretCipher(old).encrypt_bytes(b"payload")
    assert SecretCipher(new, old).decrypt_bytes(sealed) == b"payload"
    with pytest.raises(CipherError):
        SecretCipher(new).decrypt_bytes(sealed)
