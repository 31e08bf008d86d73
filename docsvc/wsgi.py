"""WSGI entry for gunicorn in the full stack: `gunicorn docsvc.wsgi:app`."""
import sys

import workers
from docsvc import create_app, logs
from docsvc.config import ConfigError, Settings

workers.wire()  # the entry point hands the application its job queues
try:
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    app = create_app(settings)
except ConfigError as exc:
    # exit status 4 is gunicorn's "app failed to load": the master stops instead of restarting
    # workers that would fail the same way, and the log shows the sentence, not a traceback
    print(f"docsvc: {exc}", file=sys.stderr)
    raise SystemExit(4) from None
