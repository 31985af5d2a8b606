"""Token hashes: principals' tokens are stored hashed, never in the clear.

Two forms, both hex:

    sha256:<digest>                     for long random tokens (the default; one hash per
                                        call is cheap)
    scrypt:<n>:<r>:<p>:<salt>:<digest>  for tokens people choose (slow on purpose; a
                                        verified token is remembered, see Directory)

`reservation auth hash-token` prints either form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_token(token: str, scheme: str = "sha256") -> str:
    if scheme == "sha256":
        return "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    if scheme == "scrypt":
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(token.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
        return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{salt.hex()}:{digest.hex()}"
    raise ValueError(f"unknown token hash scheme {scheme!r} (sha256 or scrypt)")


def check_hash(stored: str) -> None:
    """Raise ValueError if `stored` is not a hash this module can verify against."""
    parts = stored.split(":")
    try:
        if parts[0] == "sha256" and len(parts) == 2 and len(bytes.fromhex(parts[1])) == 32:
            return
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if n > 1 and r > 0 and p > 0 and bytes.fromhex(parts[4]) and bytes.fromhex(parts[5]):
                return
    except ValueError:
        pass
    raise ValueError("token_hash must be sha256:<64 hex> or scrypt:<n>:<r>:<p>:<salt>:<hash> "
                     "(make one with `reservation auth hash-token`)")


def matches(token: str, stored: str) -> bool:
    """Whether `token` hashes to `stored`, compared in constant time."""
    parts = stored.split(":")
    if parts[0] == "sha256":
        presented = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(presented, parts[1])
    if parts[0] == "scrypt":
        n, r, p = (int(x) for x in parts[1:4])
        digest = hashlib.scrypt(token.encode(), salt=bytes.fromhex(parts[4]), n=n, r=r, p=p,
                                maxmem=256 * 1024 * 1024)
        return hmac.compare_digest(digest.hex(), parts[5])
    return False


def new_token() -> str:
    """A random token worth storing as sha256 (256 bits)."""
    return secrets.token_urlsafe(32)
