"""Named points where the fault tests break a run on purpose.

``KEQING_FAILPOINT=load:staff:after_upsert`` raises ``InjectedFault`` there;
``KEQING_FAILPOINT=load:staff:after_upsert=kill`` kills the process with SIGKILL (no cleanup at
all, as a power cut would); ``...=sleep:3`` pauses there for 3 s, e.g. with a transaction open,
for the test to break the database connection meanwhile. ``name@k`` fires only the k-th time the
point is reached in the process (``deliver:sent@3=kill``: after the third email). Several points
may be given, comma-separated. Unset in production.

The points:

- ``stage:<stage>:done`` (flows/nightly.py), right after a stage of the nightly run finished, for
  ``ingest``, ``grading``, ``supply``, ``loyalty``, ``render``, ``deliver`` (the staff emails) and
  ``ops_email`` (the last email; the run is not yet recorded as finished);
- ``load:<feed>:after_upsert`` (tasks/ingest.py), inside a feed's load transaction, after its rows
  were upserted and before its files are marked done; ``load:<feed>:committed`` just after it;
- ``deliver:sent`` (edges/sender.py), each time a transport has taken one email (the SMTP
  server answered, or the ``.eml`` file was written) and before its outcome is recorded.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter


class InjectedFault(RuntimeError):
    """Raised at a failpoint named in KEQING_FAILPOINT."""


_reached: Counter[str] = Counter()


def check(name: str) -> None:
    spec = os.environ.get("KEQING_FAILPOINT")
    if not spec:
        return
    _reached[name] += 1
    for item in spec.split(","):
        point, _, action = item.strip().partition("=")
        point, _, nth = point.partition("@")
        if point == name and (not nth or int(nth) == _reached[name]):
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if action.startswith("sleep:"):
                time.sleep(float(action.removeprefix("sleep:")))
                return
            raise InjectedFault(f"fault injected at {name}")
