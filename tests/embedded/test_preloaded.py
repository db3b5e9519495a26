"""mod_python3 reloads the dialplan module on every call: after its first import the
handler module is found in memory, with the same functions, and no file is read."""

import subprocess
import sys

RELOAD_WITHOUT_FILES = """
import importlib, sys
import fs_cgr.embedded.call as call
import fs_cgr.embedded.handler as handler
opened = []
sys.addaudithook(lambda event, args: event == "open" and opened.append(args[0]))
package = sys.modules["fs_cgr.embedded"]
kept, package.__path__ = package.__path__, []  # a search of the folder would find nothing
try:
    for _ in range(3):
        reloaded = importlib.reload(handler)
finally:
    package.__path__ = kept
print(reloaded is handler, reloaded.handler is call.handler, reloaded.runtime is call.runtime,
      reloaded.__file__ == call.__file__.replace("call.py", "handler.py"), opened)
"""


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_reload_of_the_handler_reads_no_file_and_keeps_its_functions():
    assert _run(RELOAD_WITHOUT_FILES) == "True True True True []"


PRICE_RELOADED_WITHOUT_FILES = """
import importlib, sys
import fs_cgr.embedded.price as price
handler, price_of = price.handler, price.price
sys.modules["fs_cgr.embedded"].__path__ = []
reloaded = importlib.reload(price)
print(reloaded is price, reloaded.handler is handler, reloaded.price is price_of)
"""


def test_the_price_check_is_reloaded_from_memory_with_all_it_defined():
    assert _run(PRICE_RELOADED_WITHOUT_FILES) == "True True True"


def test_only_the_dialplan_modules_are_served_from_memory():
    code = (
        "import importlib, sys\n"
        "import fs_cgr.embedded.handler, fs_cgr.embedded.state as state\n"
        "sys.modules['fs_cgr.embedded'].__path__ = []\n"
        "try:\n"
        "    importlib.reload(state)\n"
        "except ModuleNotFoundError:\n"
        "    print('searched')\n"
    )
    assert _run(code) == "searched"


def test_serving_twice_installs_one_finder():
    code = (
        "import sys\n"
        "from fs_cgr.embedded.preloaded import serve_from_memory\n"
        "before = len(sys.meta_path)\n"
        "serve_from_memory('probe', {'a': 1})\n"
        "serve_from_memory('probe', {'a': 2})\n"
        "import probe\n"
        "print(len(sys.meta_path) - before, probe.a)\n"
    )
    assert _run(code) == "1 1"
