from tests.postgres_fixture import postgres_dsn, postgres_provider

__all__ = ["postgres_dsn", "postgres_provider"]
