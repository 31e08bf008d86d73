"""Job functions and the worker entry point. Jobs load state, call a docsvc service, save."""
