"""The audit log: who changed what in a workspace, kept for admins and for compliance questions."""
