import pytest

from tests.api.conftest import api, api_server  # noqa: F401 - the API fixtures
from tests.cdrs.helpers import BACKENDS, make_node, write_plan


@pytest.fixture(params=BACKENDS)
def node(request, tmp_path):
    node = make_node(request.param, request, tmp_path / "data")
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    yield node
    node.stop()


@pytest.fixture
def embedded(request, tmp_path):
    """A node on the embedded backend only, for logic that storage does not change."""
    node = make_node("embedded", request, tmp_path / "data")
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    yield node
    node.stop()
