"""How many workers ``fs-cgr serve`` runs, and the configurations that cannot have more."""

import pytest

from fs_cgr.api.serve import worker_count
from fs_cgr.config import ConfigError, load_config
from fs_cgr.workers.role import WorkerRole
from fs_cgr.workers.supervisor import default_count


def _config(datadb: str, stordb: str = "sqlite:////tmp/x.sqlite"):
    return load_config(overrides={"datadb.url": datadb, "stordb.url": stordb}, env={})


def test_default_is_one_per_cpu_on_redis_and_one_with_the_embedded_databases():
    cpus, why = default_count(_config("redis://127.0.0.1:6379/0"))
    assert cpus >= 1 and "CPU" in why
    count, why = default_count(_config("internal://"))
    assert count == 1 and "embedded" in why
    assert default_count(_config("redis://127.0.0.1:6379/0", "internal://"))[0] == 1
    assert default_count(_config("redis://127.0.0.1:6379/0", "sqlite://:memory:"))[0] == 1


@pytest.mark.parametrize(
    "datadb, stordb",
    [("internal://", "sqlite:////tmp/x.sqlite"), ("redis://127.0.0.1:6379/0", "internal://")],
)
def test_more_than_one_worker_needs_state_every_worker_sees(datadb, stordb):
    with pytest.raises(ConfigError, match="embedded ones live in one process"):
        worker_count(_config(datadb, stordb), 2)
    assert worker_count(_config(datadb, stordb), 1) == 1


def test_worker_count_given_is_kept_and_checked():
    config = _config("redis+sentinel://127.0.0.1:26379/m/0", "mysql://root@127.0.0.1:3306/x")
    assert worker_count(config, 3) == 3
    with pytest.raises(ConfigError, match="1 or more"):
        worker_count(config, 0)


def test_exactly_one_slot_holds_the_node_duty():
    roles = [WorkerRole(slot, 4) for slot in range(4)]
    assert [role.holds_node_duty for role in roles] == [True, False, False, False]
    assert WorkerRole().holds_node_duty and WorkerRole().follows_link_events  # no workers
    assert [WorkerRole(slot, 4).follows_link_events for slot in range(4)] == [True] + [False] * 3
