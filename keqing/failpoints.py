"""Named points where the fault tests break a run on purpose.

``KEQING_FAILPOINT=load:staff:after_upsert`` raises ``InjectedFault`` there;
``KEQING_FAILPOINT=load:staff:after_upsert=kill`` kills the process with SIGKILL (no cleanup at
all, as a power cut would). Several points may be given, comma-separated. Unset in production.
"""

from __future__ import annotations

import os
import signal


class InjectedFault(RuntimeError):
    """Raised at a failpoint named in KEQING_FAILPOINT."""


def check(name: str) -> None:
    spec = os.environ.get("KEQING_FAILPOINT")
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.strip().partition("=")
        if point == name:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise InjectedFault(f"fault injected at {name}")
