from tests.cdrs.conftest import api, api_server, embedded, node  # noqa: F401 - same fixtures
