"""Reading request input for web and API views: a wrong type or an out-of-range number is a 400 with a
message saying which field and what it should be — never a 500 from deep inside a service."""
from __future__ import annotations

from collections.abc import Mapping

from flask import request

from docsvc.errors import DomainError
from docsvc.i18n import _

# Database ids and counts are 32-bit integers on PostgreSQL; anything beyond is a mistake, not an id.
MAX_INT = 2**31 - 1


class BadInput(DomainError):
    """A request field of the wrong type or out of range: answered as bad input (400)."""


def json_object() -> dict[str, object]:
    """The JSON body, which must be an object."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested thousands deep: the JSON parser gives up before `silent` can help
        data = None
    if not isinstance(data, dict):
        raise BadInput(_("The request body must be a JSON object, e.g. %(example)s.", example='{"at_page": 2}'))
    return data


def as_int(value: object, name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """`value` (an integer, or a string of digits from a form or query) within [minimum, maximum]."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) <= 12:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadInput(_("%(name)s must be a whole number from %(minimum)s to %(maximum)s.", name=name,
                         minimum=minimum, maximum=maximum))
    return value


def int_field(body: Mapping[str, object], name: str, default: int | None = None, *, minimum: int = 0,
              maximum: int = MAX_INT) -> int:
    """An integer from a JSON body, form or query string; `default` when absent or empty."""
    value = body.get(name)
    if value is None or value == "":
        if default is None:
            raise BadInput(_("%(name)s is required.", name=name))
        return default
    return as_int(value, name, minimum=minimum, maximum=maximum)


def optional_int(body: Mapping[str, object], name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    value = body.get(name)
    return None if value is None or value == "" else as_int(value, name, minimum=minimum, maximum=maximum)


def flag(body: Mapping[str, object], name: str) -> bool | None:
    """A yes/no field: true/false (or "true"/"1"/"on", "false"/"0"/"off" from a form); None when absent."""
    value = body.get(name)
    if value is None:
        return None
    if value is True or value in ("true", "1", "on", "yes") or (type(value) is int and value == 1):
        return True
    if value is False or value in ("false", "0", "off", "no", "") or (type(value) is int and value == 0):
        return False
    raise BadInput(_("%(name)s must be true or false.", name=name))


def scalar_values(body: Mapping[str, object], names: tuple[str, ...]) -> dict[str, object]:
    """The fields in `names` present in `body`, each a string, number, true/false or null — a nested list
    or object there is refused rather than stored as its text."""
    out: dict[str, object] = {}
    for name in names:
        if name in body:
            value = body[name]
            if isinstance(value, (list, dict)):
                raise BadInput(_("%(name)s must be a string, a number or null.", name=name))
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not -1e15 < value < 1e15:
                raise BadInput(_("%(name)s is out of range.", name=name))
            out[name] = value
    return out


def page_number(args: Mapping[str, str], name: str = "page", default: int = 1, maximum: int = 100_000) -> int:
    """A page number from the query string: 1 when absent, 400 when not a number or beyond `maximum`."""
    return int_field(args, name, default, minimum=1, maximum=maximum)
