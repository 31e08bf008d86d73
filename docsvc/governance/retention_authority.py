"""The authority recorded on the version-1 rules seeded from the document-type table.

Data, not a message: it is stored on every seeded schedule row and in the audit trail, and names the
company's own (Chinese) retention table, so it reads the same for everyone."""
from __future__ import annotations

INITIAL_AUTHORITY = "企业归档范围和保管期限表（初始） / initial company table"
