"""Liveness and readiness: can this api process reach its database and Redis, and is a worker alive."""
