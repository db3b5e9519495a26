from tests.stats.nodes import node, nodes, redis_nodes  # noqa: F401 - fixtures
