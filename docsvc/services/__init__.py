"""Use cases: plain functions over a Session, shared by web views, the API, the CLI and job functions."""
