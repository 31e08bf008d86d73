"""Login, logout, and the person's own account: password change and API tokens."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session as cookie_session, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from docsvc.governance.access import Action, can, rule
from docsvc.models import User
from docsvc.governance.accounts import (TOO_MANY_LOGINS, AccountError, attempt_login, change_password, issue_token,
                                        list_tokens, log_out, revoke_token)
from docsvc.http import client_ip, db, t

bp = Blueprint("auth", __name__)


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
        result = attempt_login(db(), form.username.data or "", form.password.data or "", ip=client_ip())
        if result.retry_after_s is not None:
            flash(TOO_MANY_LOGINS)
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(result.retry_after_s)}
        if result.user is not None:
            cookie_session.clear()  # a fresh session on login: nothing planted before it survives
            login_user(result.user)
            target = request.args.get("next") or ""
            # Only same-site paths: an absolute URL here would be an open redirect.
            return redirect(target if target.startswith("/") and not target.startswith("//") else home_url(result.user))
        until = result.locked_until.strftime("%H:%M UTC") if result.locked_until else ""
        flash(t(result.message_key or "bad_login", until=until))
    elif request.method == "POST":
        flash(t("login_incomplete"))
    return render_template("auth/login.html", form=form)


def home_url(user: User) -> str:
    """Where a person lands after login: the first area their roles open."""
    for action, endpoint in ((Action.VIEW_BATCH, "batches.index"), (Action.SEARCH, "search.search"),
                             (Action.READ_AUDIT, "audit.index")):
        if can(user, action):
            return url_for(endpoint)
    return url_for("auth.account")


@bp.route("/logout", methods=["POST"])
@rule(Action.AUTHENTICATED)
def logout() -> object:
    log_out(db(), g.user, ip=client_ip())
    logout_user()
    cookie_session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@rule(Action.PUBLIC)
def set_language(code: str) -> object:
    response = redirect(request.referrer or url_for("batches.index"))
    if code in ("zh", "en"):
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
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
        flash(t("password_form_incomplete"))
        return redirect(url_for("auth.account"))
    try:
        change_password(db(), g.user, form.current.data or "", form.new.data or "", ip=client_ip())
    except AccountError as exc:
        flash(str(exc))
        return redirect(url_for("auth.account"))
    # A fresh session for this browser; every other session named the old password and has ended.
    cookie_session.clear()
    login_user(g.user)
    flash(t("password_changed"))
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
