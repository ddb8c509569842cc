"""Console users (`vigil users add NAME --role finance|viewer`): passwords are kept only as a
salted scrypt hash with OWASP's parameters (N=2^17, r=8, p=1; hashlib needs no extra
package). `finance` may resolve findings; `viewer` reads everything and changes nothing.

Changing a user's password or role ends their open sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from vigil import clock, db
from vigil_app import audit

ROLES = ("finance", "viewer")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

# OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 (128 MiB per hash, so maxmem is raised).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SCRYPT_MAXMEM = 256 * 1024 * 1024
KEY_BYTES = 32


class AccountError(ValueError):
    """A name, role or password that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def may_change(self) -> bool:
        return self.role == "finance"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$<n>$<r>$<p>$<salt>$<key>`: the parameters travel with the hash, so they can be
    raised later without locking anyone out."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                  maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, expected)


@cache
def _absent_user_hash() -> str:
    """Compared against when the account does not exist, so a wrong name costs as long as a
    wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def add_user(conn, name: str, role: str, password: str, *, actor: str) -> str:
    """Create or update a user; returns "created" or "updated". Recorded in the audit log
    (never the password or its hash); an update ends the user's open sessions."""
    if not NAME_PATTERN.match(name):
        raise AccountError(f"{name!r} is not a user name (letters, digits, '.', '_', '@', '-'; at most 64)")
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role ({', '.join(ROLES)})")
    check_new_password(password)
    password_hash = hash_password(password)
    today = clock.read_clock(conn).today(datetime.now(UTC))
    with db.atomic(conn) as cur:
        cur.execute("select role from console.users where user_name = %s for update", (name,))
        found = cur.fetchone()
        if found is None:
            cur.execute("insert into console.users (user_name, role, password_hash) values (%s, %s, %s)",
                        (name, role, password_hash))
        else:
            cur.execute("""update console.users set role = %s, password_hash = %s, updated_at = now()
                           where user_name = %s""", (role, password_hash, name))
            cur.execute("""update console.sessions set revoked_at = now()
                           where user_name = %s and revoked_at is null""", (name,))
        audit.record(cur, actor=actor, via=audit.VIA_COMMAND_LINE,
                     action="add user" if found is None else "update user", subject=name,
                     before=None if found is None else {"role": found[0]},
                     after={"role": role, "password": "set"}, business_date=today)
    return "created" if found is None else "updated"


def authenticate(conn, name: str, password: str) -> User | None:
    """The user when the password is theirs; the same work is done for an unknown name."""
    with conn.cursor() as cur:
        cur.execute("select role, password_hash from console.users where user_name = %s", (name,))
        found = cur.fetchone()
    if found is None:
        verify_password(password, _absent_user_hash())
        return None
    role, stored = found
    return User(name, role) if verify_password(password, stored) else None
