"""Benchmark of the email stages: render and write 2,000 emails with attachments, then deliver them.

Synthetic views (``reports.samples``: reps with 12 targets, callback staff with 40 calls and a
25-patient expiry list, home-visit staff with 3 villages) are built in memory; then, timed:

1. render: ``render_many`` (HTML + inline CSS + text + CSV attachments + MIME), all CPUs;
2. write: the outbox rows into a fresh SQLite database (``render_emails`` does 1 and 2 together);
3. deliver to files: the ``.eml`` outbox through the real sender (claim, write, record per row);
4. deliver over SMTP: the same rows again (``resend``) to a local aiosmtpd server, reusing one
   connection; the connections opened are counted on both sides.

Run: ``PYTHONPATH=. python bench/email.py [--emails 2000] [--processes N]``
"""

from __future__ import annotations

import os
import sys

# This file is called email.py: keep its folder off sys.path so `import email` finds the stdlib.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from keqing.db import dispose_engines, get_engine, upgrade  # noqa: E402
from keqing.deliver import outbox  # noqa: E402
from keqing.deliver.local_smtp import LocalSmtpServer  # noqa: E402
from keqing.settings import Settings  # noqa: E402
from reports import samples  # noqa: E402
from reports.render import render_many  # noqa: E402
from reports.views import View  # noqa: E402
from tasks.deliver import deliver_pending  # noqa: E402
from tasks.render import render_emails  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=None, help="render workers (default: CPUs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="keqing-bench-email-"))
    url = f"sqlite:///{work}/bench.db"
    upgrade(get_engine(url))
    settings = Settings(database_url=url, outbox=work / "outbox", smtp_host=None, _env_file=None)

    t = time.perf_counter()
    views = build_views(args.emails)
    print(f"views: {len(views)} built in {time.perf_counter() - t:.2f}s (not part of the budget)")

    t = time.perf_counter()
    rendered = render_many(views, processes=args.processes)
    render_s = time.perf_counter() - t
    size = sum(len(r.message) for r in rendered)
    print(f"render: {len(rendered)} emails in {render_s:.2f}s ({size / 1e6:.1f} MB, CPUs {os.cpu_count()})")
    del rendered

    t = time.perf_counter()
    summary = render_emails.fn(settings, RUN_DATE, views)
    render_write_s = time.perf_counter() - t
    print(f"render + write to the outbox (SQLite): {summary['emails']} emails in {render_write_s:.2f}s")

    t = time.perf_counter()
    files = deliver_pending.fn(settings, RUN_DATE)
    files_s = time.perf_counter() - t
    print(f"deliver to .eml files: {files['written']} written in {files_s:.2f}s")
    print(f"TOTAL render + write + files: {render_write_s + files_s:.2f}s (budget 20 s)")

    engine = get_engine(url)
    outbox.resend(engine, RUN_DATE)
    with LocalSmtpServer() as server:
        smtp_settings = settings.model_copy(
            update={"smtp_host": server.host, "smtp_port": server.port, "smtp_security": "none", "smtp_timeout": 30}
        )
        t = time.perf_counter()
        sent = deliver_pending.fn(smtp_settings, RUN_DATE)
        smtp_s = time.perf_counter() - t
        received = len(server.handler.messages)
        print(
            f"deliver over SMTP (local aiosmtpd): {sent['sent']} sent in {smtp_s:.2f}s, "
            f"{sent['connections']} connection(s) opened by the client, {server.handler.connections} seen by the "
            f"server, {received} messages received"
        )
    print(f"peak RSS: {peak_rss_mb():.0f} MB; work dir {work}")
    dispose_engines()


if __name__ == "__main__":
    main()
