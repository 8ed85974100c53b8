"""Errors a user can cause, each carrying the HTTP status it deserves."""

from typing import ClassVar


class DomainError(Exception):
    """A refusal with a reason a person can act on."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "DomainError"
    title: ClassVar[str] = "Request refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StepNotAllowed(DomainError):
    """The step is not possible in the incident's current state."""

    status = 409
    code = "StepNotAllowed"
    title = "Step not allowed now"


class Forbidden(DomainError):
    """The actor's roles do not allow the step."""

    status = 403
    code = "Forbidden"
    title = "Not allowed for your roles"


class InvalidStep(DomainError):
    """The step's fields break a rule of the incident's process."""

    status = 422
    code = "InvalidStep"
    title = "Invalid step"


ERRORS_BY_CODE: dict[str, type[DomainError]] = {
    cls.code: cls for cls in (DomainError, StepNotAllowed, Forbidden, InvalidStep)
}
