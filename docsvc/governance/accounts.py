"""User accounts, passwords (argon2) and API tokens (shown once, stored hashed)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docsvc.constants import LOCKOUT_MINUTES, LOCKOUT_THRESHOLD, Grant, Role
from docsvc.models import ApiToken, AuditEvent, User, as_utc, utcnow
from docsvc.errors import require_found
from docsvc.governance import audit
from docsvc.governance.access import Action, role_allows
from docsvc.i18n import _, lazy_gettext as _l

_hasher = PasswordHasher()
# Checked instead of a real hash for unknown usernames, so they cost the same time as known ones; made
# with the cost in force when it is set, or on first use (hashing costs as much as a login: not at import).
_dummy_hash: str | None = None
TOKEN_PREFIX = "dsv_"
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8


def use_password_cost(memory_kib: int, iterations: int) -> None:
    """The argon2 cost of new hashes in this process (DOCSVC_PASSWORD_HASH_MEMORY_KIB / _ITERATIONS;
    build_runtime sets it). Existing hashes keep verifying whatever their cost; a successful login
    re-hashes a password made at another cost, so raising the setting upgrades every account in use."""
    global _hasher, _dummy_hash
    if (_hasher.memory_cost, _hasher.time_cost) != (memory_kib, iterations):
        _hasher = PasswordHasher(time_cost=iterations, memory_cost=memory_kib)
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))


def _unknown_user_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


class AccountError(ValueError):
    pass


def parse_roles(roles: str | list[str]) -> list[str]:
    return _parse_names(roles, {r.value for r in Role}, _("role"))


def check_separation(roles: list[str]) -> list[str]:
    """Separation of duties (三员): the administrator is audited, so never their own auditor."""
    if Role.ADMIN in roles and Role.AUDITOR in roles:
        raise AccountError(_("One account cannot be both admin and auditor: the auditor checks the administrator. Create a separate account for auditing."))
    return roles


def create_user(session: Session, username: str, password: str, roles: str | list[str],
                display_name: str = "", *, actor: User | None = None, ip: str | None = None,
                grants: str | list[str] = "") -> User:
    username = username.strip()
    if not username:
        raise AccountError(_("The username must not be empty."))
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(_("The username “%(username)s” is taken.", username=username))
    check_password_strength(password)
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=" ".join(check_separation(parse_roles(roles))),
                grants=" ".join(parse_grants(grants)))
    session.add(user)
    session.flush()
    audit.record(session, actor, "account.create", object_type="user", object_id=user.id, ip=ip,
                 detail={"username": user.username, "roles": sorted(user.role_set), "grants": sorted(user.grant_set)})
    session.commit()
    return user


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("The password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH))


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(session: Session, user: User, name: str = "", *, ip: str | None = None) -> str:
    """Create a token and return it; only its hash is kept, so this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    audit.record(session, user, "token.create", object_type="token", object_id=row.id, ip=ip, detail={"name": name})
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    now = utcnow()
    # "Last used" is for reviewing stale tokens: minute precision is plenty, and skipping the
    # write on most calls keeps a commit off every API request.
    if row.last_used_at is None or now - as_utc(row.last_used_at) > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        session.commit()
    return row.user


def _token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to guard against).
    return hashlib.sha256(token.encode()).hexdigest()


# Per client address, besides the per-account lockout: slows guessing across many usernames. Only
# failures count, so an office behind one address can still log everyone in at nine o'clock.
LOGIN_FAILURES_PER_MINUTE = 20
LOGIN_LIMIT_WINDOW = timedelta(seconds=60)
TOO_MANY_LOGINS = _l("Too many failed logins from this network address: wait a minute and try again; if you "
                     "forgot the password, ask an administrator.")

# One answer for an unknown name, a wrong password and a locked account, so the answer tells nobody which.
BAD_LOGIN = _l("Wrong username or password, or the account is briefly locked after repeated failures (15 minutes at "
               "most). Check and try again; on a computer you logged in from before, the right password still works; "
               "an administrator can also unlock the account.")


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str | None = None  # shown to the person when refused
    retry_after_s: int | None = None  # set when the address is throttled: not even a right password helps


def backoff(failed_in_a_row: int) -> timedelta:
    """How long an account refuses logins from unknown devices after this many failures in a row: nothing
    below the threshold, then one minute doubling with each failure up to LOCKOUT_MINUTES."""
    if failed_in_a_row < LOCKOUT_THRESHOLD:
        return timedelta(0)
    return min(timedelta(minutes=LOCKOUT_MINUTES), timedelta(minutes=2 ** min(failed_in_a_row - LOCKOUT_THRESHOLD, 10)))


def attempt_login(session: Session, username: str, password: str, *, ip: str | None = None,
                  now: datetime | None = None, known_device_user_id: int | None = None) -> LoginResult:
    """Check a password; audits every outcome.

    An address with LOGIN_FAILURES_PER_MINUTE recent failures is refused before the password is read.
    Unknown names and refusals answer alike ("bad_login") and cost one argon2 verification each, so
    neither the answer nor its time tells who exists. Failures in a row put the account into an
    exponential back-off (`backoff`); during it, only a browser that logged in as this user before
    (`known_device_user_id`, from a signed cookie) may still log in with the right password — so
    anyone can slow down guessing on an account, but nobody can lock its owner out."""
    moment = now or utcnow()
    if ip and failed_logins_from(session, ip, LOGIN_LIMIT_WINDOW, moment) >= LOGIN_FAILURES_PER_MINUTE:
        audit.record(session, None, "login", outcome="rate_limited", ip=ip, now=moment,
                     detail={"username": username[:80]})
        session.commit()
        return LoginResult(None, retry_after_s=int(LOGIN_LIMIT_WINDOW.total_seconds()))
    user = find_user(session, username.strip())
    if user is None:
        _hasher_verify(_unknown_user_hash(), password)
        audit.record(session, None, "login", outcome="failed", ip=ip, now=moment,
                     detail={"username": username[:80], "reason": "unknown user"})
        session.commit()
        return LoginResult(None, str(BAD_LOGIN))
    matches = password_matches(user, password)
    backing_off = user.locked_until is not None and as_utc(user.locked_until) > moment
    if backing_off and not (known_device_user_id == user.id and matches):
        audit.record(session, user, "login", outcome="locked", ip=ip, now=moment,
                     detail={"known_device": known_device_user_id == user.id})
        session.commit()
        return LoginResult(None, str(BAD_LOGIN))
    if not matches:
        user.failed_logins += 1
        audit.record(session, user, "login", outcome="failed", ip=ip, now=moment,
                     detail={"failed_in_a_row": user.failed_logins})
        wait = backoff(user.failed_logins)
        if wait:
            user.locked_until = moment + wait
            audit.record(session, user, "account.lock", object_type="user", object_id=user.id, ip=ip,
                         now=moment, detail={"minutes": wait.total_seconds() / 60,
                                             "failed_in_a_row": user.failed_logins})
        session.commit()
        return LoginResult(None, str(BAD_LOGIN))
    if not user.active:
        audit.record(session, user, "login", outcome="disabled", ip=ip, now=moment)
        session.commit()
        return LoginResult(None, _("This account is disabled. Ask an administrator."))
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, moment
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, user, "login", ip=ip, now=moment)
    session.commit()
    return LoginResult(user)


def _hasher_verify(hashed: str, password: str) -> None:
    try:
        _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        pass


def log_out(session: Session, user: User, *, ip: str | None = None) -> None:
    """Logout: every session of `user` ends server-side (their cookies name an older generation);
    the browser's cookie itself is the web layer's to clear."""
    user.session_generation = (user.session_generation or 0) + 1
    audit.record(session, user, "logout", ip=ip)
    session.commit()


def choose_language(session: Session, user: User, code: str) -> None:
    """Keep the interface language the person switched to with their account, so it follows them."""
    user.language = code
    session.commit()


def change_password(session: Session, user: User, old: str, new: str, *, ip: str | None = None) -> None:
    if not password_matches(user, old):
        audit.record(session, user, "account.password", object_type="user", object_id=user.id,
                     outcome="failed", ip=ip)
        session.commit()
        raise AccountError(_("The current password is wrong."))
    check_password_strength(new)
    user.password_hash = _hasher.hash(new)
    audit.record(session, user, "account.password", object_type="user", object_id=user.id, ip=ip)
    session.commit()


def set_active(session: Session, actor: User | None, user: User, active: bool, *, ip: str | None = None) -> None:
    user.active = active
    if active:
        user.locked_until, user.failed_logins = None, 0
    audit.record(session, actor, "account.enable" if active else "account.disable", object_type="user",
                 object_id=user.id, ip=ip, detail={"username": user.username})
    session.commit()


def _not_self(actor: User | None, user: User) -> None:
    """Nobody changes their own roles or grants: a second administrator does it, and it is audited."""
    if actor is not None and actor.id == user.id:
        raise AccountError(_("You cannot change your own roles or grants; ask another administrator."))


def set_roles(session: Session, actor: User | None, user: User, roles: str | list[str], *,
              ip: str | None = None) -> None:
    _not_self(actor, user)
    before = sorted(user.role_set)
    user.roles = " ".join(check_separation(parse_roles(roles)))
    audit.record(session, actor, "account.roles", object_type="user", object_id=user.id, ip=ip,
                 detail={"username": user.username, "before": before, "after": sorted(user.role_set)})
    session.commit()


def parse_grants(grants: str | list[str]) -> list[str]:
    return _parse_names(grants, {g.value for g in Grant}, _("grant"))


def _parse_names(names: str | list[str], valid: set[str], what: str) -> list[str]:
    """Names given as "a b", "a,b" or a list, checked against `valid`; sorted, without repeats. `what` is the
    kind of name, translated ("role")."""
    given = names.replace(",", " ").split() if isinstance(names, str) else list(names)
    unknown = [n for n in given if n not in valid]
    if unknown:
        raise AccountError(_("Unknown %(what)s: %(unknown)s (valid: %(valid)s).", what=what,
                             unknown=", ".join(unknown), valid=", ".join(sorted(valid))))
    return sorted(set(given))


def set_grants(session: Session, actor: User | None, user: User, grants: str | list[str], *,
               ip: str | None = None) -> None:
    _not_self(actor, user)
    before = sorted(user.grant_set)
    user.grants = " ".join(parse_grants(grants))
    audit.record(session, actor, "account.grants", object_type="user", object_id=user.id, ip=ip,
                 detail={"username": user.username, "before": before, "after": sorted(user.grant_set)})
    session.commit()


def list_users(session: Session) -> list[User]:
    """Every account for the administrator: never logged in first, then the longest unused."""
    return list(session.scalars(select(User).order_by(User.last_login_at.is_(None).desc(), User.last_login_at,
                                                      User.username)))


def update_account(session: Session, actor: User, user_id: int, *, roles: list[str], grants: list[str],
                   active: bool, ip: str | None = None) -> User:
    """The administrator's form as one use case: change what differs (each change audited on its own);
    nobody disables their own account."""
    user = require_found(session.get(User, user_id), _("User #%(id)s does not exist.", id=user_id))
    if sorted(roles) != sorted(user.role_set):
        set_roles(session, actor, user, roles, ip=ip)
    if sorted(grants) != sorted(user.grant_set):
        set_grants(session, actor, user, grants, ip=ip)
    if active != user.active:
        if not active and user.id == actor.id:
            raise AccountError(_("You cannot disable your own account."))
        set_active(session, actor, user, active, ip=ip)
    return user


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, actor: User | None, token_id: int, *, ip: str | None = None) -> ApiToken:
    """Owners revoke their own tokens; an admin may revoke anyone's."""
    row = session.get(ApiToken, token_id)
    if row is None or (actor is not None and row.user_id != actor.id and not role_allows(actor, Action.MANAGE_ACCOUNTS)):
        raise AccountError(_("Token #%(id)s does not exist.", id=token_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit.record(session, actor, "token.revoke", object_type="token", object_id=row.id, ip=ip,
                 detail={"owner": row.user.username, "name": row.name})
    session.commit()
    return row


# What counts as a failed login in the audit trail (a refused attempt by the rate limit does not).
FAILED_LOGIN_OUTCOMES = ("failed", "locked", "disabled")


# The audit action of a refused bearer token (counted per address like failed logins).
TOKEN_FAILURE = "token.auth"


def failed_logins_from(session: Session, ip: str, window: timedelta, now: datetime | None = None, *,
                       action: str = "login") -> int:
    """Failed logins (or, with action=TOKEN_FAILURE, refused API tokens) from `ip` in the last `window`,
    counted in the audit trail: every web process and host sees the same count, with no state of its own
    to keep or lose."""
    since = (now or utcnow()) - window
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.occurred_at >= since, AuditEvent.action == action, AuditEvent.ip == ip,
        AuditEvent.outcome.in_(FAILED_LOGIN_OUTCOMES))) or 0
