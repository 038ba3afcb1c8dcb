"""Prefect tasks, one module per stage. A task does the I/O of one step and calls pure functions.

``keqing_task`` is Prefect's ``task`` with the house defaults: nothing cached by input hash (inputs
are large frames) and no results persisted (they can hold personal data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE


def keqing_task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    options.setdefault("cache_policy", NO_CACHE)
    options.setdefault("persist_result", False)
    if fn is None:
        return lambda f: task(f, **options)
    return task(fn, **options)


class NotRetried(RuntimeError):
    """A failure that a retry cannot fix (e.g. the inbox folder does not exist): the run fails at once."""


def _retry_unless_injected(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry real failures; a fault injected by the tests stands for a crash, which is not retried, and
    a ``NotRetried`` failure is not retried either."""
    from edges.failpoints import InjectedFault

    try:
        state.result()
    except (InjectedFault, NotRetried):
        return False
    except BaseException:
        return True
    return True


# Retries with backoff only for tasks that touch files, the database or SMTP.
IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": _retry_unless_injected,
}


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run, the plain ``keqing`` logger elsewhere."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("keqing")
