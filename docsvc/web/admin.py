"""Administration of accounts: create, roles, the `sensitive` grant, disable/enable, last login."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from docsvc.governance.access import Action, rule
from docsvc.constants import Grant, Role
from docsvc.models import User
from docsvc.governance.accounts import AccountError, create_user, set_active, set_grants, set_roles
from docsvc.http import client_ip, db, t

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/accounts")
@rule(Action.MANAGE_ACCOUNTS)
def accounts() -> object:
    users = db().scalars(select(User).order_by(User.last_login_at.is_(None).desc(), User.last_login_at, User.username)).all()
    return render_template("admin/accounts.html", users=users, roles=[r.value for r in Role],
                           grants=[gr.value for gr in Grant])


@bp.route("/accounts", methods=["POST"])
@rule(Action.MANAGE_ACCOUNTS)
def create() -> object:
    try:
        create_user(db(), request.form.get("username", ""), request.form.get("password", ""),
                    request.form.getlist("roles"), request.form.get("display_name", ""),
                    actor=g.user, ip=client_ip(), grants=request.form.getlist("grants"))
        flash(t("account_created"))
    except AccountError as exc:
        db().rollback()
        flash(str(exc))
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/<int:user_id>", methods=["POST"])
@rule(Action.MANAGE_ACCOUNTS)
def update(user_id: int) -> object:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    try:
        roles, grants = request.form.getlist("roles"), request.form.getlist("grants")
        if sorted(roles) != sorted(user.role_set):
            set_roles(db(), g.user, user, roles, ip=client_ip())
        if sorted(grants) != sorted(user.grant_set):
            set_grants(db(), g.user, user, grants, ip=client_ip())
        active = request.form.get("active") == "1"
        if active != user.active:
            if not active and user.id == g.user.id:
                raise AccountError("不能停用自己的账户。 / You cannot disable your own account.")
            set_active(db(), g.user, user, active, ip=client_ip())
        flash(t("account_saved", username=user.username))
    except AccountError as exc:
        db().rollback()
        flash(str(exc))
    return redirect(url_for("admin.accounts"))
