"""Login and logout."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from docsvc.access import Action, rule
from docsvc.models import utcnow
from docsvc.services.accounts import find_user, password_matches
from docsvc.web import db, t

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
@rule(Action.PUBLIC)
def login() -> object:
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user(db(), form.username.data or "")
        if user is not None and user.active and password_matches(user, form.password.data or ""):
            user.last_login_at = utcnow()
            db().commit()
            login_user(user)
            target = request.args.get("next") or ""
            # Only same-site paths: an absolute URL here would be an open redirect.
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("batches.index"))
        flash(t("bad_login"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@rule(Action.AUTHENTICATED)
def logout() -> object:
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@rule(Action.PUBLIC)
def set_language(code: str) -> object:
    response = redirect(request.referrer or url_for("batches.index"))
    if code in ("zh", "en"):
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response
