"""Price a call on a route's own rating plans (CGrateS' Responder.GetCostOnRatingPlans).

A route names the rating plans its carrier charges us by; the call is priced on those
plans directly, whatever the caller's own rating profile says. CGrateS does it by caching
a temporary rating profile (category ``*tmp``) that activates the plan at the call's
setup time; here the same profile lives in a copy of the compiled rating data that
holds only it, so nothing shared is touched.
"""

import copy
from datetime import datetime
from decimal import Decimal

from fs_cgr.errors import NotFound, UnauthorizedDestination
from fs_cgr.rating.callcost import CallDescriptor, to_ns
from fs_cgr.rating.compile import RatingData, profile_key
from fs_cgr.rating.cost import get_cost
from fs_cgr.rating.model import Activation, RatingProfile

TMP_CATEGORY = "*tmp"


def cost_on_rating_plans(
    data: RatingData,
    tenant: str,
    account: str,
    destination: str,
    setup_time: datetime,
    usage: int,
    plan_ids,
) -> tuple[Decimal, str] | None:
    """(cost, plan id) from the first plan in ``plan_ids`` that rates the call, else None.

    The cost is CGrateS' GetCost result: connect fee included, rounded with the longest
    DestinationRate rounding. Unknown plans and plans without the destination are skipped.
    """
    for plan_id in plan_ids:
        plan = data.plans.get(plan_id)
        if plan is None:
            continue
        cd = CallDescriptor(
            tenant, TMP_CATEGORY, account, destination, setup_time, account=account, usage=usage
        )
        try:
            call_cost = get_cost(_only_profile(data, cd, plan, setup_time), cd)
        except (UnauthorizedDestination, NotFound):
            continue
        return call_cost.rounded_cost(), plan_id
    return None


def _only_profile(data: RatingData, cd: CallDescriptor, plan, setup_time) -> RatingData:
    key = profile_key(cd.tenant, cd.category, cd.subject)
    view = copy.copy(data)  # shares plans, destinations and the prefix index
    view.profiles = {key: RatingProfile(key, (Activation(to_ns(setup_time), plan, ()),))}
    return view
