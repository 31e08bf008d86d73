"""Governance: access, accounts, loans, the audit trail, retention, holds and destruction."""
