"""Password hashes for the web console: scrypt (RFC 7914), salted, parameters stored.

scrypt is memory-hard, so guessing at a stolen table costs memory as well as time;
it is in Python's standard library (OpenSSL), so no native package is needed. A hash
is `scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>`; hashes made with weaker
parameters still verify, and `needs_rehash` says when to replace one.
"""

import base64
import hashlib
import hmac
import secrets

# 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s a hash: OWASP's minimum is N=2**17
# with r=8 at 128 MiB; this trades some of that for a small machine that signs in
# several people at once.
_N, _R, _P = 2**15, 8, 1
_KEY_BYTES = 32
_MAX_MEMORY = 64 * 1024 * 1024

MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, _N, _R, _P)
    return "$".join(("scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; False for a damaged hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, _unb64(key))


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(f"scrypt${_N}${_R}${_P}$")


def dummy_verify(password: str) -> None:
    """Spend what a verification spends, so an unknown name takes as long as a known one."""
    verify_password(password, _DUMMY)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


_DUMMY = hash_password(secrets.token_urlsafe(16))
