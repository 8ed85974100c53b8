"""Web console passwords: scrypt hashes, salted, checked in constant time."""

import base64
import hashlib

from store.passwords import hash_password, needs_rehash, verify_password


def test_a_password_verifies_and_nothing_else_does() -> None:
    stored = hash_password("correct horse battery")

    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)
    assert "correct" not in stored and stored.startswith("scrypt$")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same password twice") != hash_password("same password twice")


def test_weaker_parameters_still_verify_and_ask_to_be_replaced() -> None:
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"old and weak pass", salt=salt, n=2**10, r=8, p=1, dklen=32)
    old = "$".join(
        (
            "scrypt",
            "1024",
            "8",
            "1",
            base64.b64encode(salt).decode(),
            base64.b64encode(key).decode(),
        )
    )

    assert verify_password("old and weak pass", old)
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("old and weak pass"))


def test_a_damaged_hash_verifies_nothing() -> None:
    for damaged in ("", "bcrypt$x", "scrypt$1$2$3$!!$!!", "scrypt$notanumber$8$1$AA==$AA=="):
        assert not verify_password("anything", damaged)
