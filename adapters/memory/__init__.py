from adapters.memory.notifier import InMemoryNotifier
from adapters.memory.store import InMemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["InMemoryNotifier", "InMemoryStore", "InMemoryUnitOfWork"]
