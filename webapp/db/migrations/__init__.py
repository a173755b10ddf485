"""Alembic migrations of the service's database (run through `webapp.db.migrate`)."""
