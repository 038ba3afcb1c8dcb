"""The end-to-end benchmark: a scale's history loaded once, then one night's increment, timed per stage.

    PYTHONPATH=$PWD python bench/run.py --scale large --db sqlite --db postgres [--history 1 --history 2 ...]

For each database and each history length:

1. the inbox gets the history (master data of every day; the facts of the last ``days/h`` days for
   history ×h of ``--history-max``), and ``nightly(run_date=last day, send=False)`` loads it
   (this is also the ingest throughput for a long history);
2. the last day's folder is added and ``nightly(run_date=last day + 1)`` runs end to end, emails
   written to the file outbox, in a fresh process under ``/usr/bin/time -v`` (peak RSS);
3. the floor is measured on the same data: reading the night's input rows once with Polars, and
   scanning once the history columns that the compute stages read;
4. the peer (``bench/peer_callbacks.py``): the due callbacks computed by a per-patient pandas loop
   against keqing's vectorised functions, on the same rows, checked equal.

Results go to ``bench/results/<scale>.md`` (a table and the machine) and ``.json`` (``--name`` to
choose another name). After each history load the database is saved (a PostgreSQL template
database, or a copy of the SQLite file); ``--reuse-history`` restores it and times only the night.
The data is generated once into ``bench/work/data/<scale>`` (``keqing generate``, seed 42).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
MASTER_FEEDS = ("offices", "staff", "products", "customers", "patients")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# What the compute stages read from the history, one scan each (the floor of their reads).
HISTORY_SCANS = {
    "purchases": "patient_id, product_code, boxes, purchase_date",
    "visits": "visit_id, staff_id, target_type, target_id, visit_at, channel, outcome, next_visit_date",
    "rx_monthly": "month, customer_id, product_code, our_rx, market_rx",
    "orders": "order_id, customer_id, amount, order_date, kind",
    "consults": "consult_id, received_at, came_in, purchased, office_code, staff_id",
    "customers": "customer_id, kind, institution, department, title, is_kol, owner_staff_id, office_code",
    "patients": "patient_id, office_code, callback_staff_id, home_visit_staff_id, informed, village, township",
    "staff": "staff_id, role, office_code, manager_id, team, active",
    "products": "product_code, units_per_box, daily_units",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def ensure_data(scale: str, data: Path) -> float | None:
    """Generate the scale's feeds once; the seconds it took, or None when they were there already."""
    if (data / ".complete").exists():
        return None
    shutil.rmtree(data, ignore_errors=True)
    log(f"generating {scale} into {data}")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli.main", "generate", "--scale", scale, "--out", str(data)], check=True)
    (data / ".complete").write_text("")
    return time.perf_counter() - t0


def day_folders(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name))


def link_inbox(inbox: Path, days: list[Path], fact_days: set[str]) -> int:
    """Symlink each day's files into ``inbox``: master feeds always, facts only for ``fact_days``."""
    files = 0
    for day in days:
        for f in sorted(day.iterdir()):
            if not f.name.startswith(MASTER_FEEDS) and day.name not in fact_days:
                continue
            target = inbox / day.name / f.name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f)
            files += 1
    return files


def _pg_admin(name: str, *statements: str) -> None:
    """Run ``statements`` (``{name}`` filled in) on the benchmark's PostgreSQL server, outside a transaction."""
    import sqlalchemy as sa

    admin = sa.create_engine(os.environ.get("KEQING_BENCH_POSTGRES_URL", DEFAULT_PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement.format(name=name))
    admin.dispose()


def fresh_database(db: str, name: str, work: Path) -> str:
    """An empty database for one case: a new SQLite file, or a dropped and recreated PostgreSQL database."""
    if db == "sqlite":
        path = work / "edges.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import sqlalchemy as sa

    _pg_admin(name, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}"')
    admin_url = os.environ.get("KEQING_BENCH_POSTGRES_URL", DEFAULT_PG)
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def save_history(db: str, name: str, work: Path, history_run: dict) -> None:
    """Keep the loaded history for ``--reuse-history``: a PostgreSQL template database, or a SQLite copy."""
    if db == "postgres":
        copy = 'CREATE DATABASE "{name}_history" TEMPLATE "{name}"'
        _pg_admin(name, 'DROP DATABASE IF EXISTS "{name}_history"', copy)
    else:
        shutil.copyfile(work / "edges.db", work.parent / f"{work.name}.history.db")
    (work.parent / f"{work.name}.history.json").write_text(json.dumps(history_run))


def restore_history(db: str, name: str, work: Path) -> dict | None:
    """The saved history's load figures after restoring its database; None when there is none."""
    saved = work.parent / f"{work.name}.history.json"
    if not saved.exists():
        return None
    if db == "postgres":
        _pg_admin(
            name, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}" TEMPLATE "{name}_history"'
        )
    else:
        shutil.copyfile(work.parent / f"{work.name}.history.db", work / "edges.db")
    return json.loads(saved.read_text())


def probe(env: dict[str, str], run_date: dt.date, *, send: bool, label: str, log_to: Path) -> dict:
    """Run bench/nightly_probe.py in a fresh process under /usr/bin/time -v; its JSON plus peak RSS.
    The run's log (Prefect's and keqing's lines, then /usr/bin/time's report) is written to ``log_to``."""
    cmd = [sys.executable, str(ROOT / "bench" / "nightly_probe.py"), "--date", run_date.isoformat()]
    if not send:
        cmd.append("--no-send")
    log(f"{label}: nightly for {run_date}{'' if send else ' (no email)'}")
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    log_to.write_text(done.stderr)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-5000:])
        raise SystemExit(f"{label}: the nightly run for {run_date} failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    result["process_seconds"] = round(wall, 2)
    result["peak_rss_gb"] = round(peak_kb / 1024**2, 3)
    log(f"{label}: {result['flow_seconds']:.1f} s in the flow, peak RSS {result['peak_rss_gb']:.2f} GiB")
    return result


def floor(database_url: str, night: Path) -> dict:
    """Reading the night's files once with Polars, and scanning the compute stages' history columns once."""
    import polars as pl

    from edges.db import make_engine, read_frame

    t0 = time.perf_counter()
    rows = 0
    for f in sorted(night.iterdir()):
        if f.suffix == ".csv":
            raw = f.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="replace")
            rows += pl.read_csv(text.encode(), infer_schema=False).height
        elif f.suffix == ".xlsx":
            rows += pl.read_excel(f, infer_schema_length=0).height
    read_input = time.perf_counter() - t0
    engine = make_engine(database_url)
    scans: dict[str, float] = {}
    scanned = 0
    for table, columns in HISTORY_SCANS.items():
        t0 = time.perf_counter()
        scanned += read_frame(engine, f"SELECT {columns} FROM {table}").height
        scans[table] = round(time.perf_counter() - t0, 3)
    engine.dispose()
    return {
        "input_rows": rows,
        "read_input_seconds": round(read_input, 3),
        "history_rows": scanned,
        "scan_history_seconds": round(sum(scans.values()), 3),
        "scans": scans,
    }


def peer(env: dict[str, str], run_date: dt.date, limit: int | None) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "peer_callbacks.py"), "--date", run_date.isoformat()]
    if limit:
        cmd += ["--patients", str(limit)]
    log(f"peer: callbacks by a per-patient pandas loop{f' ({limit:,} patients)' if limit else ''}")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-5000:])
        raise SystemExit("peer: failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_case(args: argparse.Namespace, db: str, history: int, days: list[Path]) -> dict:
    label = f"{args.scale}/{db}/history x{history}"
    work = WORK / f"{args.scale}-{db}-x{history}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "inbox").mkdir(parents=True)
    *before, last = days
    fact_count = max(1, round(len(before) * history / args.history_max))
    fact_days = {d.name for d in before[-fact_count:]}
    url = fresh_database(db, f"keqing_bench_{args.scale}_x{history}", work)
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "KEQING_INBOX": str(work / "inbox"),
        "KEQING_DATABASE_URL": url,
        "KEQING_OUTBOX": str(work / "outbox"),
    }
    for var in ("KEQING_SMTP_HOST", "KEQING_RULES", "KEQING_FAILPOINT"):
        env.pop(var, None)
    link_inbox(work / "inbox", before, fact_days)
    last_day = dt.date.fromisoformat(last.name)
    name = f"keqing_bench_{args.scale}_x{history}"
    history_run = restore_history(db, name, work) if args.reuse_history else None
    if history_run is None:
        history_run = probe(
            env,
            last_day,
            send=False,
            label=f"{label} history ({fact_count} days of facts)",
            log_to=work.parent / f"{work.name}.history.log",
        )
        save_history(db, name, work, history_run)
    else:
        log(f"{label}: history restored from the copy saved after its load")
    link_inbox(work / "inbox", [last], {last.name})
    night = probe(env, last_day + dt.timedelta(days=1), send=True, label=f"{label} night", log_to=work / "night.log")
    result = {
        "scale": args.scale,
        "db": db,
        "history": history,
        "fact_days": fact_count,
        "history_load": history_run,
        "night": night,
        "floor": floor(url, last),
    }
    if args.peer and history == max(args.history):
        result["peer"] = peer(env, last_day + dt.timedelta(days=1), args.peer_patients)
    if not args.keep:
        shutil.rmtree(work / "outbox", ignore_errors=True)
    return result


COMPUTE = ("grading", "supply", "loyalty")


def table(results: list[dict]) -> str:
    lines = [
        "| db | history | history rows | history load s | rows/s | night s | ingest | grading | supply | loyalty | "
        "render | deliver | Prefect overhead | peak RSS GiB | compute / floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        h, n, f = r["history_load"], r["night"], r["floor"]
        st = n["stages"]
        compute = sum(st.get(s, 0) for s in COMPUTE)
        overhead = n["flow_seconds"] - n["tasks_seconds"]
        lines.append(
            f"| {r['db']} | ×{r['history']} ({r['fact_days']} days) | {h['rows_read']:,} | {h['flow_seconds']:.0f} | "
            f"{h['rows_read'] / h['flow_seconds']:,.0f} | **{n['flow_seconds']:.1f}** | {st.get('ingest', 0):.1f} | "
            f"{st.get('grading', 0):.1f} | {st.get('supply', 0):.1f} | {st.get('loyalty', 0):.1f} | "
            f"{st.get('render', 0):.1f} | {st.get('deliver', 0) + st.get('ops-email', 0):.1f} | "
            f"{overhead:.1f} s ({overhead / n['flow_seconds']:.0%}) | {n['peak_rss_gb']:.2f} | "
            f"{compute:.1f} / {f['scan_history_seconds']:.1f} = {compute / f['scan_history_seconds']:.1f}× |"
        )
    return "\n".join(lines)


def write_results(scale: str, results: list[dict], generated: float | None, name: str | None = None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    load = os.getloadavg()
    doc = [
        f"# keqing nightly benchmark, `{scale}` scale",
        "",
        f"Measured {dt.datetime.now():%Y-%m-%d %H:%M} with `python bench/run.py --scale {scale}` "
        f"on {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}, "
        f"{info['system']}; load average at the end {load[0]:.1f}.",
        "",
        "Times are seconds of wall clock inside the flow (Prefect's temporary server start excluded). "
        "*history load*: the first run, which ingests the whole history and computes the lists without "
        "email. *night*: the next day's run end to end (ingest of one day's files, the lists, rendering "
        "and writing every email to the file outbox). *Prefect overhead*: flow time minus the time "
        "inside task functions. *compute / floor*: grading + supply + loyalty against one scan of the "
        "history columns they read.",
        "",
        table(results),
        "",
    ]
    if generated is not None:
        doc += [f"`keqing generate --scale {scale}` took {generated:.0f} s.", ""]
    for r in results:
        f = r["floor"]
        doc.append(
            f"- {r['db']} ×{r['history']}: floor: the night's {f['input_rows']:,} input rows read once with Polars in "
            f"{f['read_input_seconds']:.2f} s (ingest took {r['night']['stages'].get('ingest', 0):.1f} s); "
            f"{f['history_rows']:,} history rows scanned once in {f['scan_history_seconds']:.1f} s."
        )
        peaks = r["night"].get("task_peak_rss_gb", {})
        if peaks:
            top = ", ".join(f"{task} {gb:.2f}" for task, gb in list(peaks.items())[:4])
            doc.append(f"- {r['db']} ×{r['history']}: peak RSS of the night's process by task (GiB): {top}.")
        if "peer" in r:
            p = r["peer"]
            doc.append(
                f"- {r['db']} peer: due callbacks of {p['patient_products']:,} patient-products: "
                f"pandas per-patient loop {p['peer_seconds']:.1f} s, keqing {p['keqing_seconds']:.2f} s: "
                f"**{p['ratio']:.0f}×**; "
                f"same list: {p['same']} ({p['calls']:,} calls)."
            )
    path = RESULTS / f"{name or scale}.md"
    path.write_text("\n".join(doc) + "\n")
    (RESULTS / f"{name or scale}.json").write_text(json.dumps({"machine": info, "results": results}, indent=1) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("tiny", "small", "medium", "large"), default="medium")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgres"), help="default: both")
    parser.add_argument("--history", action="append", type=int, help="history multiples to run (default: 4)")
    parser.add_argument("--history-max", type=int, default=4, help="the multiple that is the whole generated range")
    parser.add_argument("--data", type=Path, help="generated feeds (default bench/work/data/<scale>)")
    parser.add_argument("--no-peer", dest="peer", action="store_false")
    parser.add_argument("--peer-patients", type=int, help="run the peer on the first N patients only")
    parser.add_argument("--keep", action="store_true", help="keep the outbox of each case")
    parser.add_argument(
        "--reuse-history",
        action="store_true",
        help="restore the history saved by an earlier run (<database>_history, or a SQLite copy) and time the night",
    )
    parser.add_argument("--name", help="results file name in bench/results (default: the scale)")
    args = parser.parse_args()
    args.db = args.db or ["sqlite", "postgres"]
    args.history = sorted(args.history or [args.history_max])
    data = args.data or WORK / "data" / args.scale
    generated = ensure_data(args.scale, data)
    days = day_folders(data)
    results = []
    for db in args.db:
        for history in args.history:
            results.append(run_case(args, db, history, days))
            write_results(args.scale, results, generated, args.name)
    path = write_results(args.scale, results, generated, args.name)
    print(table(results))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
