"""The relational read model: tables, migrations and repositories over SQLAlchemy (async)."""
