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
    """Build the web app: the shared HTTP layer, then every blueprint of the web pages and the API.

    Refuses to start on a database that `docsvc db upgrade` has not migrated. With an in-process job
    queue (the embedded default) `start_workers` starts its threads, the recovery sweeper and the daily
    tasks in this process. Imported here, not at the top, so that `import docsvc` stays light (workers and
    the CLI import the package without Flask's views).
    """
    from docsvc import db, http, runtime as runtime_mod
    from docsvc.http import proxies
    from docsvc.api import customers as customers_api, destruction as destruction_api, loans_audit, v1
    from docsvc.api import four_properties as four_properties_api, operations as operations_api, retention as retention_api
    from docsvc.web import (admin, audit, auth, batches, customers, destruction, doctypes, documents, home, inbox,
                            loans, operations, retention, search)

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
    app.wsgi_app = proxies.behind_proxies(app.wsgi_app, rt.settings)  # type: ignore[method-assign]
    http.init_app(app)
    for module in (auth, home, batches, documents, search, admin, loans, audit, customers, inbox, doctypes, retention,
                   destruction, operations):
        app.register_blueprint(module.bp)
    for module in (v1, loans_audit, customers_api, retention_api, destruction_api, four_properties_api,
                   operations_api):
        app.register_blueprint(module.bp)
        http.exempt_from_csrf(module.bp)
    if start_workers:
        rt.jobs.start(upkeep=True)
    return app
