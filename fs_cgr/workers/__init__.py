"""Worker processes: one node on every core (``fs-cgr serve --workers N``).

A supervisor process binds the API and outbound ESL listen sockets once, then forks N
workers that inherit them, so the kernel hands each new connection to one of the
workers (``supervisor``). Each worker is a whole gevent node of its own; what they
share lives in the Redis DataDB. Work that must happen once per node (journal
recovery, hupall on shutdown, a scheduler) asks ``role.holds_node_duty()``, true in
exactly one worker. docs/workers.md says what an operator sees.
"""
