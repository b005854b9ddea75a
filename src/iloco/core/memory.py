"""Memory pre-check: the largest array each family's jobs allocate, estimated from the config.

Each family's ``spec`` estimates the dominant terms (float64, ``F64`` bytes a number) of the
arrays its jobs hold at once, not exact counts: they exist so that a config far beyond this
machine is refused at validation with one line naming the key, instead of failing later with a
numpy or torch out-of-memory traceback after other jobs ran. SP2 also has its own, configured
limit (``sp2.memory_limit_gb``); everything is checked against the memory of the machine that
validates the config.
"""

from __future__ import annotations

import os
from typing import Any

from iloco.core import family
from iloco.core.errors import IlocoError

#: Bytes of one float64 number.
F64 = 8


def physical_bytes() -> int | None:
    """Memory of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def estimates(config: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(key to lower, bytes, what) for the largest allocation of every family's jobs."""
    return [row for fam in family.families() for row in fam.memory(config)]


def check(config: dict[str, Any], limit: int | None = None) -> None:
    """Raise IlocoError naming the first key whose largest allocation exceeds ``limit``
    (default: this machine's memory)."""
    limit = physical_bytes() if limit is None else limit
    if not limit:
        return
    for key, need, what in estimates(config):
        if need > limit:
            raise IlocoError(
                f"config: {key}: a job would need about {need / 2**30:.3g} GiB ({what}, float64),"
                f" more than the {limit / 2**30:.3g} GiB of memory of this machine; lower the sizes under {key}"
            )
