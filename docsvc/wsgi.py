"""WSGI entry for gunicorn in the full stack: `gunicorn docsvc.wsgi:app`."""
from docsvc import create_app

app = create_app()
