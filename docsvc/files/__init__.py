"""The customer files: customers, document types, filing and 档号, page operations, suggestions, search, exports."""
