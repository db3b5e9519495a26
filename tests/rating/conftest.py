"""Fixtures: the plan of plans.py compiled once, and a shortcut to price a call on it."""

import pytest

from fs_cgr.rating import CallDescriptor, RatingEngine, load_folder

from .plans import BASE_PLAN, MONDAY_1PM, seconds, write_folder


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> RatingEngine:
    folder = write_folder(tmp_path_factory.mktemp("base_plan"), BASE_PLAN)
    return RatingEngine.compile(load_folder(folder).live)


@pytest.fixture
def cost(engine):
    """cost(destination, usage_seconds, subject=..., start=..., duration_index_s=...)."""

    def price(destination, usage_s, subject="1001", start=MONDAY_1PM, index_s=0, **kwargs):
        cd = CallDescriptor(
            "cgrates.org",
            kwargs.pop("category", "call"),
            subject,
            destination,
            start,
            usage=seconds(usage_s),
            duration_index=seconds(index_s),
            **kwargs,
        )
        return engine.get_cost(cd)

    return price
