"""fs_cgr inside FreeSWITCH: the mod_python3 handler that authorizes a call in its own thread.

Everything here runs on FreeSWITCH's native call threads, in the interpreter mod_python3
embeds, where no event loop runs: nothing in this package may import gevent (a test
imports ``handler`` in a fresh interpreter and checks ``sys.modules``). The node follows
the calls it authorized over its inbound Event Socket link (``fs_cgr.agents.embedded``).
"""
