from adapters.postgres.audit_log import purge_audit
from adapters.postgres.migrations import MigrationError, migrate
from adapters.postgres.notifier import AsyncpgNotifier
from adapters.postgres.pool import create_pool
from adapters.postgres.unit_of_work import AsyncpgUnitOfWork

__all__ = ["AsyncpgNotifier", "AsyncpgUnitOfWork", "MigrationError", "create_pool", "migrate",
           "purge_audit"]
