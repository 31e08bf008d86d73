"""docsvc: document management for scanned customer files."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from docsvc.config import Settings
from docsvc.runtime import Runtime

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# Scripts and styles live in files, never inline, so the Content-Security-Policy can forbid inline code.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               start_workers: bool = True) -> Flask:
    """Build the web app. Refuses to start on a database that `docsvc db upgrade` has not migrated."""
    from docsvc import db, runtime as runtime_mod, web
    from docsvc.jobs import InProcessJobQueue

    rt = runtime or runtime_mod.build_runtime(settings or Settings.from_env())
    db.check_migrated(rt.engine)
    runtime_mod.install(rt)

    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    app.config.update(
        SECRET_KEY=rt.settings.secret_key,
        MAX_CONTENT_LENGTH=rt.settings.max_upload_mb * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.extensions["docsvc"] = rt
    if rt.settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=rt.settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=rt.settings.proxy_hops)
    web.init_app(app)
    if start_workers and isinstance(rt.jobs, InProcessJobQueue):
        rt.jobs.start()
        rt.jobs.recover_now()
    return app
