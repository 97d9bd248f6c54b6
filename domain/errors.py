class DomainError(Exception):
    """Base class for rule violations detected inside the domain."""


class InvalidEnvelope(DomainError):
    """An Evolution webhook body that lacks the fields we route on."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid webhook envelope")
        self.errors = errors


class InvalidFlag(DomainError):
    """A rollout flag change that breaks the flag's invariants."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid flag")
        self.errors = errors
