"""Errors raised by the rating package."""

from fs_cgr.errors import NotFound, ServerError


class TariffPlanError(ServerError):
    """A tariff plan that cannot be used; ``detail`` names the file/object, line, column and why.

    Loading and compiling are all-or-nothing, so this error means nothing changed.
    The compiler also says which document (``kind`` as the CSV file is named, ``obj_id``),
    which of its rows (``row``, from 1) and ``field``, so a folder load can name the line.
    """

    def __init__(self, detail: str = "", kind: str = "", obj_id: str = "", row=None, field=""):
        super().__init__(detail)
        self.kind, self.obj_id, self.row, self.field = kind, obj_id, row, field


class RatingPlanNotFound(NotFound):
    """Neither the subject nor ``*any`` has a rating profile for the tenant and category."""

    code = "RATING_PLAN_NOT_FOUND"

    @property
    def message(self) -> str:
        return "SERVER_ERROR: RATING_PLAN_NOT_FOUND"
