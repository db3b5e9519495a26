"""The allocation step of ResourceS on plain dicts: the embedded DataDB runs it under its
lock; the Redis DataDB runs the same rules as one Lua script (``redis_datadb``).

A resource's usages are ``{usage_id: (units, expiry_us, owner)}``; expiry 0 = never.
"""


def active(usages: dict, now_us: int) -> dict:
    """The usages that have not expired at ``now_us``."""
    return {uid: usage for uid, usage in usages.items() if not usage[1] or usage[1] > now_us}


def allocate(
    table: dict, limits: list, usage_id: str, units: float, now_us: int, dry_run: bool, owner: str
) -> int:
    """``table``: ``{resource_id: usages}``, changed in place. See DataDB.resource_allocate."""
    first = -1
    for index, (resource_id, limit, _ttl) in enumerate(limits):
        usages = table[resource_id] = active(table.get(resource_id, {}), now_us)
        counted = usages if dry_run else {u: v for u, v in usages.items() if u != usage_id}
        used = sum(usage[0] for usage in counted.values())
        if first < 0 and (limit < 0 or limit >= used + units):
            first = index
    if first < 0 or dry_run:
        return first
    for resource_id, _limit, ttl in limits:
        usages = table[resource_id]
        usages.pop(usage_id, None)
        if ttl != 0:
            usages[usage_id] = (units, now_us + ttl if ttl > 0 else 0, owner)
    return first
