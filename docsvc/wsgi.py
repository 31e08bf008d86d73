"""WSGI entry for gunicorn in the full stack: `gunicorn docsvc.wsgi:app`."""
import workers
from docsvc import create_app

workers.wire()  # the entry point hands the application its job queues
app = create_app()
