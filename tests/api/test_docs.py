"""docs/api.md lists every JSON-RPC method the server registers."""

from fs_cgr.api.registry import load_method_modules, method_names

from .helpers import ROOT


def test_every_registered_method_is_documented():
    load_method_modules()
    documented = (ROOT / "docs" / "api.md").read_text()
    missing = [
        name
        for name in method_names()
        if not name.startswith("TestSv1.")
        and ".TestOnly" not in name
        and f"`{name}`" not in documented
        and f"/ `{name.split('.')[1]}`" not in documented
    ]
    assert missing == [], f"add these to docs/api.md: {missing}"
