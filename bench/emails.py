"""Benchmark of the email stages: render and write 2,000 emails with attachments, then deliver them.

Synthetic views (``reports.samples``: reps with 12 targets, callback staff with 40 calls and a
25-patient expiry list, home-visit staff with 3 villages) are built in memory; then, timed:

1. render: ``render_many`` (HTML + inline CSS + text + CSV attachments + MIME), all CPUs;
2. write: the outbox rows into a fresh SQLite database in one upsert (``render_emails`` = 1 + 2);
3. deliver to files: the ``.eml`` outbox through the real sender (claim, write, sync, record per 100);
4. deliver over SMTP: the same rows again (``resend``) to a local aiosmtpd server running in another
   process, reusing one connection; the connections opened are counted on both sides.

Wall and CPU seconds are both printed: on a shared machine the wall time depends on the load.

Run: ``PYTHONPATH=. python bench/emails.py [--emails 2000] [--processes N]``
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict

# This file is called email.py: keep its folder off sys.path so `import email` finds the stdlib.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from reports import samples  # noqa: E402
from reports.views import View  # noqa: E402

# The rest is imported in main(): the render workers are spawned and import this module again, and
# should not pay for Prefect and SQLAlchemy they do not use (as under `keqing run`).

RUN_DATE = dt.date(2026, 11, 23)  # a Monday


def build_views(n: int) -> list[View]:
    """65% reps, 27% callback staff, 8% home-visit staff: every email has an attachment."""
    views: list[View] = []
    for i in range(n):
        share = i % 100
        if share < 65:
            views.append(samples.rep_view(RUN_DATE, staff_id=f"R{i:05d}", seed=i))
        elif share < 92:
            views.append(samples.callback_view(RUN_DATE, staff_id=f"C{i:05d}", seed=i))
        else:
            views.append(samples.home_visit_view(RUN_DATE, staff_id=f"H{i:05d}", seed=i))
    return views


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Timer:
    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f}s wall, {self.cpu:.2f}s CPU"


def _serve(conn) -> None:  # runs in its own process, so the server does not share our GIL
    from tests.smtp_server import LocalSmtpServer

    with LocalSmtpServer() as server:
        conn.send((server.host, server.port))
        conn.recv()  # until the benchmark is done
        conn.send((server.handler.connections, len(server.handler.messages)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=None, help="render workers (default: render_many's, one per CPU from 4 CPUs on, else none)")
    args = parser.parse_args()

    from edges import outbox
    from edges.db import dispose_engines, get_engine, upgrade
    from keqing.settings import Settings
    from reports.render import render_many
    from tasks.deliver import deliver_pending

    work = Path(tempfile.mkdtemp(prefix="keqing-bench-email-"))
    url = f"sqlite:///{work}/bench.db"
    upgrade(get_engine(url))
    settings = Settings(database_url=url, outbox=work / "outbox", smtp_host=None, _env_file=None)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")

    with Timer() as t:
        views = build_views(args.emails)
    print(f"views: {len(views)} built in {t} (not part of the budget)")

    with Timer() as render_t:
        rendered = render_many(views, processes=args.processes)
    size = sum(len(r.message) for r in rendered)
    print(f"1. render: {len(rendered)} emails with attachments in {render_t} ({size / 1e6:.1f} MB of MIME)")

    engine = get_engine(url)
    with Timer() as write_t, engine.begin() as conn:
        outbox.upsert_rendered(
            conn,
            [asdict(r) for r in rendered],
        )
    print(f"2. write to the outbox (SQLite, one upsert): {len(rendered)} rows in {write_t}")
    del rendered

    with Timer() as files_t:
        files = deliver_pending.fn(settings, RUN_DATE)
    print(f"3. deliver to .eml files: {files['written']} written in {files_t}")
    wall, cpu = (sum(getattr(t, a) for t in (render_t, write_t, files_t)) for a in ("wall", "cpu"))
    print(f"   render + write + files: {wall:.2f}s wall (budget 20 s), {cpu:.2f}s CPU")

    outbox.resend(engine, RUN_DATE)
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    host, port = parent.recv()
    smtp_settings = settings.model_copy(
        update={"smtp_host": host, "smtp_port": port, "smtp_security": "none", "smtp_timeout": 30}
    )
    with Timer() as smtp_t:
        sent = deliver_pending.fn(smtp_settings, RUN_DATE)
    parent.send("done")
    server_connections, received = parent.recv()
    server.join(10)
    print(
        f"4. deliver over SMTP (aiosmtpd in another process): {sent['sent']} sent in {smtp_t}; "
        f"{sent['connections']} connection(s) opened by the client, {server_connections} seen by the server, "
        f"{received} messages received"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB; load average {os.getloadavg()[0]:.1f} at the end; work dir {work}")
    dispose_engines()


if __name__ == "__main__":
    main()
