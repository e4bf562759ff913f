"""Infrastructure every domain shares: database, Redis, queue, auth, errors, pagination."""
