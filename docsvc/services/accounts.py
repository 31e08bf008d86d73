"""User accounts, passwords (argon2) and API tokens (shown once, stored hashed)."""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.constants import Role
from docsvc.models import ApiToken, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "dsv_"
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    pass


def parse_roles(roles: str | list[str]) -> list[str]:
    names = roles.replace(",", " ").split() if isinstance(roles, str) else list(roles)
    valid = {r.value for r in Role}
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise AccountError(f"未知角色 / unknown role: {', '.join(unknown)}; "
                           f"可用角色 / valid roles: {', '.join(sorted(valid))}")
    return sorted(set(names))


def create_user(session: Session, username: str, password: str, roles: str | list[str],
                display_name: str = "") -> User:
    username = username.strip()
    if not username:
        raise AccountError("用户名不能为空。 / The username must not be empty.")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"用户名“{username}”已存在。 / The username {username!r} is taken.")
    check_password_strength(password)
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=" ".join(parse_roles(roles)))
    session.add(user)
    session.commit()
    return user


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。 / "
                           f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(session: Session, user: User, name: str = "") -> str:
    """Create a token and return it; only its hash is kept, so this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    session.commit()
    return row.user


def _token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to guard against).
    return hashlib.sha256(token.encode()).hexdigest()
