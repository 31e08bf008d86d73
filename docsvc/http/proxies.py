"""The client's address behind reverse proxies (DOCSVC_TRUSTED_PROXIES, DOCSVC_PROXY_HOPS).

The per-address login and API-token limits and the audit trail use request.remote_addr. Behind a
proxy that is the proxy's address unless its X-Forwarded-For is read; read from anyone, though, the
header lets a client claim any address, dodging the limits and falsifying the trail. So the headers
are read only on requests whose peer is a configured proxy.
"""
from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from werkzeug.middleware.proxy_fix import ProxyFix

from docsvc.config import IPNetwork, Settings


class TrustedProxies:
    """WSGI middleware: werkzeug's ProxyFix (X-Forwarded-For and -Proto, `hops` proxies deep) for requests
    from `networks`, the request untouched for everyone else."""

    def __init__(self, app: WSGIApplication, networks: Iterable[IPNetwork], hops: int) -> None:
        self._direct = app
        self._forwarded = ProxyFix(app, x_for=hops, x_proto=hops)
        self._networks = tuple(networks)

    def trusts(self, peer: str) -> bool:
        try:
            address = ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self._forwarded if self.trusts(environ.get("REMOTE_ADDR", "")) else self._direct
        return app(environ, start_response)


def behind_proxies(app: WSGIApplication, settings: Settings) -> WSGIApplication:
    """`app` reading forwarded headers as configured: from the listed proxies (one hop unless
    DOCSVC_PROXY_HOPS says more), or, with only DOCSVC_PROXY_HOPS set, from any peer (the service is then
    reachable through the proxy alone, which the deployment must ensure); unchanged when neither is set."""
    if settings.trusted_proxies:
        return TrustedProxies(app, settings.trusted_proxies, settings.proxy_hops or 1)
    if settings.proxy_hops:
        return ProxyFix(app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    return app
