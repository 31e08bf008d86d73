"""Response headers every answer carries: the Content-Security-Policy and its companions."""
from __future__ import annotations

from flask import Response

# Scripts and styles come only from this site's files (static/): no inline <script>, on*= handler,
# javascript: URL, <style> block or style= attribute, so an injected tag or attribute runs nothing even
# if escaping fails somewhere. JSON data blocks (<script type="application/json">) are not run, so
# they are allowed. Not framable (clickjacking), no plugins, forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
