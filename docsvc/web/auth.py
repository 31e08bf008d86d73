"""Login, logout, and the person's own account: password change and API tokens."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import logout_user
from itsdangerous import BadSignature, URLSafeSerializer
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from docsvc.governance.access import Action, rule
from docsvc import i18n
from docsvc.i18n import LANGUAGES, _
from docsvc.labels import label
from docsvc.models import User
from docsvc.governance.accounts import (BAD_LOGIN, TOO_MANY_LOGINS, AccountError, attempt_login, change_password,
                                        choose_language, issue_token, list_tokens, log_out, revoke_token)
from docsvc.http import client_ip, db, runtime
from docsvc.http.gate import start_session

bp = Blueprint("auth", __name__)


# A browser that once logged in as a user carries this signed cookie naming them; during an account's
# back-off after failed logins, the right password from such a browser still logs in (accounts.attempt_login).
DEVICE_COOKIE = "docsvc_device"
DEVICE_COOKIE_DAYS = 365


def _device_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="docsvc.known-device")


def known_device_user_id() -> int | None:
    try:
        value = _device_signer().loads(request.cookies.get(DEVICE_COOKIE, ""))
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def _remember_device(response: Response, user: User) -> None:
    response.set_cookie(DEVICE_COOKIE, _device_signer().dumps(user.id), max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
                        httponly=True, samesite="Lax", secure=runtime().settings.secure_cookies)


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: one leading "/", no scheme or host, no backslash
    (browsers read it as "/") and no control characters (a tab or newline browsers drop, or a header break)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    return target


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


class PasswordForm(FlaskForm):
    current = PasswordField(validators=[DataRequired()])
    new = PasswordField(validators=[DataRequired()])


class TokenForm(FlaskForm):
    name = StringField()


@bp.route("/login", methods=["GET", "POST"])
@rule(Action.PUBLIC)
def login() -> object:
    form = LoginForm()
    if form.validate_on_submit():
        result = attempt_login(db(), form.username.data or "", form.password.data or "", ip=client_ip(),
                               known_device_user_id=known_device_user_id())
        if result.retry_after_s is not None:
            flash(str(TOO_MANY_LOGINS))  # the session keeps text, not a lazy translation
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(result.retry_after_s)}
        if result.user is not None:
            start_session(result.user)
            # Only same-site paths: an absolute URL here would be an open redirect.
            response = redirect(safe_next(request.args.get("next")) or url_for("home.index"))  # the dashboard of their roles
            _remember_device(response, result.user)
            return response
        flash(result.message or str(BAD_LOGIN))
    elif request.method == "POST":
        flash(_("Fill in both username and password; if the page was open a long time, reload it and log in again."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@rule(Action.AUTHENTICATED)
def logout() -> object:
    log_out(db(), g.user, ip=client_ip())  # every copy of this session's cookie is refused from now on
    logout_user()
    cookie_session.clear()
    return redirect(url_for("auth.login"))


@bp.app_context_processor
def language_switch() -> dict[str, str]:
    """What the switch at the top of every page offers: the other language, named in that language
    ("English" on a Chinese page, "中文" on an English one)."""
    other = "en" if i18n.language() == "zh" else "zh"
    with i18n.using(other):
        return {"other_language": other, "other_language_name": label("language", other)}


@bp.route("/lang/<code>", methods=["POST"])
@rule(Action.PUBLIC)
def set_language(code: str) -> object:
    response = redirect(request.referrer or url_for("home.index"))
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
        if g.user is not None:
            choose_language(db(), g.user, code)
    return response


@bp.route("/account", methods=["GET"])
@rule(Action.AUTHENTICATED)
def account() -> object:
    return render_template("auth/account.html", password_form=PasswordForm(), token_form=TokenForm(),
                           tokens=list_tokens(db(), g.user), new_token=None)


@bp.route("/account/password", methods=["POST"])
@rule(Action.AUTHENTICATED)
def password() -> object:
    form = PasswordForm()
    if not form.validate_on_submit():
        flash(_("Fill in both the current and the new password; if the page was open a long time, reload it and try again."))
        return redirect(url_for("auth.account"))
    try:
        change_password(db(), g.user, form.current.data or "", form.new.data or "", ip=client_ip())
    except AccountError as exc:
        flash(str(exc))
        return redirect(url_for("auth.account"))
    # A fresh session for this browser; every other session named the old password and has ended.
    start_session(g.user)
    flash(_("Password changed."))
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens", methods=["POST"])
@rule(Action.AUTHENTICATED)
def create_token() -> object:
    form = TokenForm()
    value = (issue_token(db(), g.user, (form.name.data or "").strip()[:120], ip=client_ip())
             if form.validate_on_submit() else None)
    # The token is shown in this response only (it is stored hashed), and no cache may keep it.
    page = render_template("auth/account.html", password_form=PasswordForm(), token_form=TokenForm(),
                           tokens=list_tokens(db(), g.user), new_token=value)
    return page, {"Cache-Control": "no-store"}


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@rule(Action.AUTHENTICATED)
def revoke(token_id: int) -> object:
    try:
        revoke_token(db(), g.user, token_id, ip=client_ip())
    except AccountError as exc:
        flash(str(exc))
    return redirect(url_for("auth.account"))
