"""The one access rule: may this user do this action (on this object)?

Every web view, API route and object download declares its action with `rule(...)`; the route table
test fails for a route that declares none.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from docsvc.constants import Role
from docsvc.models import User


class Action(StrEnum):
    PUBLIC = "public"              # login page, health check, static files
    AUTHENTICATED = "authenticated"
    UPLOAD = "upload"
    VIEW_BATCH = "batch.view"
    RETRY = "batch.retry"
    VIEW_METADATA = "document.metadata"
    VIEW_CONTENT = "page.content"  # page text, image, thumbnail, words
    SEARCH = "search"


_GRANTS: dict[Action, frozenset[Role]] = {
    Action.UPLOAD: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST}),
    Action.VIEW_BATCH: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER}),
    Action.RETRY: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST}),
    Action.VIEW_METADATA: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER,
                                     Role.VIEWER, Role.APPROVER, Role.SUPERVISOR}),
    Action.VIEW_CONTENT: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER}),
    Action.SEARCH: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER,
                              Role.VIEWER, Role.APPROVER, Role.SUPERVISOR}),
}


def can(user: User | None, action: Action, obj: object | None = None) -> bool:
    if action == Action.PUBLIC:
        return True
    if user is None or not user.active:
        return False
    if action == Action.AUTHENTICATED:
        return True
    return bool(user.role_set & _GRANTS.get(action, frozenset()))


F = TypeVar("F", bound=Callable[..., object])
RULE_ATTR = "_docsvc_access_rule"


def rule(action: Action) -> Callable[[F], F]:
    """Declare the action a view performs; enforcement happens in the blueprint's before_request."""
    def mark(view: F) -> F:
        setattr(view, RULE_ATTR, action)
        return view
    return mark


def declared_rule(view: Callable[..., object]) -> Action | None:
    return getattr(view, RULE_ATTR, None)
