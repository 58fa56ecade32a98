"""The store: SQLAlchemy 2.0 models, sessions and Alembic migrations (SQLite or PostgreSQL)."""
