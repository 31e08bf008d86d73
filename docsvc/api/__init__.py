"""REST API (JSON, bearer tokens)."""
