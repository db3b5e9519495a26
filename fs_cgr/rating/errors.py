"""Errors raised by the rating package."""

from fs_cgr.errors import NotFound, ServerError


class TariffPlanError(ServerError):
    """A tariff plan that cannot be used; ``detail`` names the file/object, line, column and why.

    Loading and compiling are all-or-nothing, so this error means nothing changed.
    """


class RatingPlanNotFound(NotFound):
    """Neither the subject nor ``*any`` has a rating profile for the tenant and category."""

    code = "RATING_PLAN_NOT_FOUND"

    @property
    def message(self) -> str:
        return "SERVER_ERROR: RATING_PLAN_NOT_FOUND"
