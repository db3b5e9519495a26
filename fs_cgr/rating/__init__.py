"""Rating: tariff-plan documents, the CSV loader, compiled rating data and cost calculation."""

from fs_cgr.rating.callcost import CallCost, CallDescriptor, Increment, TimeSpan
from fs_cgr.rating.engine import RatingEngine
from fs_cgr.rating.errors import RatingPlanNotFound, TariffPlanError
from fs_cgr.rating.loader import TariffPlan, folder_object_ids, load_folder

__all__ = [
    "CallCost",
    "CallDescriptor",
    "Increment",
    "RatingEngine",
    "RatingPlanNotFound",
    "TariffPlan",
    "TariffPlanError",
    "TimeSpan",
    "folder_object_ids",
    "load_folder",
]
