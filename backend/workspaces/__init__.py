"""Workspaces (tenants), their users, API keys and login sessions, and workspace settings."""
