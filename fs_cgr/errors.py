"""Errors with CGrateS' names, so clients that match on them keep working."""


class CGRError(Exception):
    """An error whose message is what CGrateS would put in the JSON-RPC ``error``."""

    code = "SERVER_ERROR"

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


class ServerError(CGRError):
    """Wraps an engine error the way CGrateS' API does: ``SERVER_ERROR: <reason>``."""

    @property
    def message(self) -> str:
        return f"SERVER_ERROR: {self.detail}"


class NotFound(CGRError):
    code = "NOT_FOUND"


class MandatoryMissing(CGRError):
    code = "MANDATORY_IE_MISSING"

    def __init__(self, *fields: str):
        super().__init__(f"[{' '.join(fields)}]")


def require(doc, names) -> None:
    """MandatoryMissing naming every field of ``names`` that ``doc`` leaves empty, in order."""
    missing = [name for name in names if not doc.get(name)]
    if missing:
        raise MandatoryMissing(*missing)


class UnauthorizedDestination(CGRError):
    code = "UNAUTHORIZED_DESTINATION"

    @property
    def message(self) -> str:
        return "SERVER_ERROR: UNAUTHORIZED_DESTINATION"


class InsufficientCredit(CGRError):
    code = "INSUFFICIENT_CREDIT"


class AccountDisabled(CGRError):
    code = "ACCOUNT_DISABLED"


class AccountNotFound(CGRError):
    code = "ACCOUNT_NOT_FOUND"


class AccountBusy(CGRError):
    """Concurrent changes kept winning over this one; nothing was changed, retry later."""

    code = "ACCOUNT_BUSY"


class PartiallyExecuted(CGRError):
    code = "PARTIALLY_EXECUTED"


class InvalidArgument(CGRError):
    code = "INVALID_ARGUMENT"


class StorageUnavailable(CGRError):
    """A database did not answer in time; callers decide what happens to the call and money."""

    code = "STORAGE_UNAVAILABLE"
