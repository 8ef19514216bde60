#!/usr/bin/python3
# Turns the raw output of one benchmark run into one result line, and the collected lines of
# a whole run into the markdown report (bench/e2e/run.sh calls it; see docs/performance.md).
#
#   results.py sysbench OUT RC                 -> "STATUS qps p50 p95 p99 queries note"
#   results.py pgbench OUT RC LOG_PREFIX       -> same
#   results.py report RUNS.tsv MEM.tsv OUT.md [STREAM.tsv]
#                                              -> tables: median of rounds, min-max, ratios;
#                                                 the 1-client added latency; result streaming
#
# Latencies are per event in microseconds: a sysbench event is one transaction of the
# workload (oltp_point_select: 1 query; oltp_read_only: BEGIN, 14 SELECTs, COMMIT), a
# pgbench -S transaction is one SELECT. A run counts only when the tool exited 0 and
# reported no error, abort or failed transaction: a TPS line alone is never trusted.
import glob
import math
import os
import re
import statistics
import sys

RUN_COLUMNS = ["suite", "workload", "clients", "path", "round", "status", "qps", "p50_us",
               "p95_us", "p99_us", "queries", "cpu_us", "note"]
PATH_ORDER = ["direct", "haproxy", "pgbouncer", "sluice-1node", "before-1node", "sluice"]
PATH_LABEL = {
    "direct": "direct (primary)",
    "haproxy": "HAProxy TCP → primary",
    "pgbouncer": "PgBouncer tx → primary",
    "sluice-1node": "sluice → primary only",
    "before-1node": "sluice before (SLUICE_BENCH_BEFORE) → primary only",
    "sluice": "sluice r/w split (reads → 2 replicas)",
}


def percentile_from_counts(pairs, q):
    """pairs: sorted (value, count); the value below which q of the events fall."""
    total = sum(c for _, c in pairs)
    if total == 0:
        return float("nan")
    rank = math.ceil(q * total)
    seen = 0
    for v, c in pairs:
        seen += c
        if seen >= rank:
            return v
    return pairs[-1][0]


def fmt_line(status, qps, pcts, queries, note):
    p = ["%.1f" % x if not math.isnan(x) else "nan" for x in pcts]
    return "%s %.2f %s %s %s %d %s" % (status, qps, p[0], p[1], p[2], queries,
                                        note.replace(" ", "_")[:160] or "-")


def parse_sysbench(out_path, rc):
    text = open(out_path, errors="replace").read()
    hist = []
    for m in re.finditer(r"^\s*([0-9.]+)\s*\|\**\s+(\d+)\s*$", text, re.M):
        hist.append((float(m.group(1)) * 1000.0, int(m.group(2))))  # ms -> us
    hist.sort()
    qm = re.search(r"^\s*queries:\s+(\d+)\s+\(([0-9.]+) per sec", text, re.M)
    errs = re.search(r"ignored errors:\s+(\d+)", text)
    fatal = re.search(r"^(FATAL|ALERT|Error).*$", text, re.M)
    status, note = "OK", ""
    if rc != 0:
        status, note = "FAILED", "exit %d" % rc
    if fatal:
        status, note = "FAILED", (note + " " + fatal.group(0)).strip()
    if errs and int(errs.group(1)) > 0:
        status, note = "FAILED", (note + " ignored errors %s" % errs.group(1)).strip()
    if not qm or not hist:
        status, note = "FAILED", (note + " no result in output").strip()
    qps = float(qm.group(2)) if qm else 0.0
    queries = int(qm.group(1)) if qm else 0
    pcts = [percentile_from_counts(hist, q) for q in (0.50, 0.95, 0.99)]
    return fmt_line(status, qps, pcts, queries, note)


def parse_pgbench(out_path, rc, log_prefix):
    text = open(out_path, errors="replace").read()
    lat = []
    for f in glob.glob(log_prefix + ".*"):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
    lat.sort()
    tps = re.search(r"^tps = ([0-9.]+)", text, re.M)
    done = re.search(r"number of transactions actually processed:\s+(\d+)", text)
    failed = re.search(r"number of failed transactions:\s+(\d+)", text)
    aborted = re.search(r"^.*aborted.*$", text, re.M)
    status, note = "OK", ""
    if rc != 0:
        status, note = "FAILED", "exit %d" % rc
    if aborted:
        status, note = "FAILED", (note + " " + aborted.group(0)).strip()
    if failed and int(failed.group(1)) > 0:
        status, note = "FAILED", (note + " failed transactions %s" % failed.group(1)).strip()
    if not tps or not done or not lat:
        status, note = "FAILED", (note + " no result in output").strip()
    pcts = [float(lat[min(len(lat) - 1, max(0, math.ceil(q * len(lat)) - 1))]) if lat
            else float("nan") for q in (0.50, 0.95, 0.99)]
    return fmt_line(status, float(tps.group(1)) if tps else 0.0, pcts,
                    int(done.group(1)) if done else 0, note)


# ---------------------------------------------------------------- report

def read_tsv(path, columns):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith(columns[0] + "\t"):
                continue
            rows.append(dict(zip(columns, line.rstrip("\n").split("\t"))))
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def cell_summary(rows):
    """rows: all rounds of one (suite, workload, clients, path)."""
    ok = [r for r in rows if r["status"] == "OK"]
    s = {"n": len(rows), "ok": len(ok), "failed": len(rows) - len(ok),
         "note": next((r["note"] for r in rows if r["status"] != "OK"), "")}
    if s["failed"] or not ok:
        return s
    qps = [float(r["qps"]) for r in ok]
    s.update(qps=med(qps), qps_min=min(qps), qps_max=max(qps),
             p50=med([float(r["p50_us"]) for r in ok]), p95=med([float(r["p95_us"]) for r in ok]),
             p99=med([float(r["p99_us"]) for r in ok]))
    cpu = [float(r["cpu_us"]) / int(r["queries"]) for r in ok
           if r["cpu_us"] not in ("", "-") and int(r["queries"]) > 0]
    s["cpu"] = med(cpu) if cpu else None
    return s


def workload_title(suite, workload):
    db = "MariaDB" if suite == "mysql" else "PostgreSQL"
    if workload.startswith("pgbench"):
        return "%s — pgbench -S -M %s" % (db, workload.split("-", 1)[1])
    return "%s — sysbench %s" % (db, workload)


def report(runs_path, mem_path, out_path, stream_path=None):
    rows = read_tsv(runs_path, RUN_COLUMNS)
    groups = {}
    for r in rows:
        groups.setdefault((r["suite"], r["workload"]), {}).setdefault(
            (int(r["clients"]), r["path"]), []).append(r)
    out = []
    summaries = {}
    for (suite, workload), cells in groups.items():
        rounds = max(int(r["round"]) for rs in cells.values() for r in rs)
        out.append("### %s\n" % workload_title(suite, workload))
        out.append("Median of %d round(s); QPS min–max in brackets; latency per event in µs; "
                   "proxy CPU = (utime+stime of the proxy process) / queries.\n" % rounds)
        out.append("| clients | path | QPS | × direct | p50 µs | p95 µs | p99 µs | proxy CPU µs/query |")
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        for clients in sorted({c for c, _ in cells}):
            direct = cell_summary(cells.get((clients, "direct"), []))
            for path in PATH_ORDER:
                if (clients, path) not in cells:
                    continue
                s = cell_summary(cells[(clients, path)])
                summaries[(suite, workload, clients, path)] = s
                label = PATH_LABEL.get(path, path)
                if "qps" not in s:
                    out.append("| %d | %s | **FAILED** (%d of %d rounds) | | | | | %s |" % (
                        clients, label, s["failed"], s["n"], s["note"].replace("|", "/")[:120]))
                    continue
                ratio = "%.2f" % (s["qps"] / direct["qps"]) if "qps" in direct else "–"
                cpu = "%.1f" % s["cpu"] if s.get("cpu") is not None and path != "direct" else "–"
                out.append("| %d | %s | %.0f (%.0f–%.0f) | %s | %.0f | %.0f | %.0f | %s |" % (
                    clients, label, s["qps"], s["qps_min"], s["qps_max"], ratio, s["p50"],
                    s["p95"], s["p99"], cpu))
        out.append("")
    out += latency_section(summaries)
    streams = stream_summaries(stream_path)
    out += stream_section(streams)
    out += memory_section(mem_path)
    out += targets_section(summaries, mem_path, streams)
    text = "\n".join(out) + "\n"
    with open(out_path, "w") as f:
        f.write(text)


LATENCY_CELLS = (("mysql", "oltp_point_select"), ("pgsql", "oltp_point_select"),
                 ("pgsql", "pgbench-simple"), ("pgsql", "pgbench-extended"))


def latency_section(S):
    """What each proxy adds to one client's point select: p50 and p99 minus direct's."""
    out = ["### Latency added at 1 client\n",
           "One client, one statement at a time (the 1-client cells above): p50 and p99 per "
           "event and what the path adds to direct's, in µs.\n",
           "| workload | path | p50 | p99 | added p50 | added p99 |",
           "|---|---|---:|---:|---:|---:|"]
    rows = 0
    for suite, wl in LATENCY_CELLS:
        d = S.get((suite, wl, 1, "direct"))
        if not d or "p50" not in d:
            continue
        for path in PATH_ORDER:
            s = S.get((suite, wl, 1, path))
            if not s or "p50" not in s:
                continue
            added = ("–", "–") if path == "direct" else (
                "%+.0f" % (s["p50"] - d["p50"]), "%+.0f" % (s["p99"] - d["p99"]))
            out.append("| %s | %s | %.0f | %.0f | %s | %s |" % (
                workload_title(suite, wl), PATH_LABEL.get(path, path), s["p50"], s["p99"], *added))
            rows += 1
    out.append("")
    return out if rows else []


STREAM_COLUMNS = ["suite", "path", "round", "status", "bytes", "seconds", "cpu_us", "note"]


def stream_summaries(stream_path):
    """(suite, path) -> median MB/s and proxy CPU ms per MB over the rounds that passed."""
    if not stream_path or not os.path.exists(stream_path):
        return {}
    groups = {}
    for r in read_tsv(stream_path, STREAM_COLUMNS):
        groups.setdefault((r["suite"], r["path"]), []).append(r)
    result = {}
    for key, rs in groups.items():
        ok = [r for r in rs if r["status"] == "OK"]
        s = {"n": len(rs), "failed": len(rs) - len(ok),
             "note": next((r["note"] for r in rs if r["status"] != "OK"), "")}
        if ok:
            mb = [int(r["bytes"]) / 1e6 for r in ok]
            s["mb"] = med(mb)
            s["mbps"] = med([m / float(r["seconds"]) for m, r in zip(mb, ok)])
            cpu = [int(r["cpu_us"]) / 1000.0 / m for m, r in zip(mb, ok) if r["cpu_us"] not in ("", "-")]
            s["cpu_ms_per_mb"] = med(cpu) if cpu else None
        result[key] = s
    return result


def stream_section(T):
    if not T:
        return []
    out = ["### Result streaming\n",
           "One result of 1,000-byte rows read to its end (mariadb --quick, psql), median of "
           "the rounds; MB/s = bytes the client got / wall time; proxy CPU per MB from /proc.\n",
           "| protocol | path | MB | MB/s | × direct | proxy CPU ms/MB |",
           "|---|---|---:|---:|---:|---:|"]
    for suite in ("mysql", "pgsql"):
        d = T.get((suite, "direct"), {})
        for path in PATH_ORDER:
            s = T.get((suite, path))
            if s is None:
                continue
            label = PATH_LABEL.get(path, path)
            if "mbps" not in s:
                out.append("| %s | %s | **FAILED** (%d of %d) | | | %s |" % (
                    suite, label, s["failed"], s["n"], s["note"].replace("|", "/")[:120]))
                continue
            ratio = "%.2f" % (s["mbps"] / d["mbps"]) if "mbps" in d else "–"
            cpu = "%.2f" % s["cpu_ms_per_mb"] if s.get("cpu_ms_per_mb") is not None and path != "direct" else "–"
            out.append("| %s | %s | %.0f | %.0f | %s | %s |" % (suite, label, s["mb"], s["mbps"], ratio, cpu))
    out.append("")
    return out


# rss_before is the same process's RSS just before the clients connected.
MEM_COLUMNS = ["proxy", "suite", "clients", "rss_before_kib", "rss_kib", "opened", "failed", "note"]


def memory_rows(mem_path):
    result = []
    for r in read_tsv(mem_path, MEM_COLUMNS):
        opened = int(r["opened"])
        per = ((int(r["rss_kib"]) - int(r["rss_before_kib"])) / opened) if opened > 0 else None
        result.append((r, per))
    return result


def memory_section(mem_path):
    rows = memory_rows(mem_path)
    if not rows:
        return []
    out = ["### Memory: idle client connections\n",
           "VmRSS of a freshly started proxy before and while it holds N idle, logged-in "
           "clients; per client = (RSS with N − RSS before) / connections held.\n",
           "| proxy | protocol | clients asked | held | failed | RSS before KiB | RSS with N KiB | KiB per client |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r, per in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["proxy"], r["suite"], r["clients"], r["opened"], r["failed"], r["rss_before_kib"],
            r["rss_kib"], "%.2f" % per if per is not None else "–"))
    notes = [r["note"] for r, _ in rows if r["note"] not in ("", "-")]
    if notes:
        out.append("\nNotes: " + "; ".join(sorted(set(notes))))
    out.append("")
    return out


def targets_section(S, mem_path, streams=None):
    out = ["### Targets (computed from the medians above)\n",
           "| target | measurement | met? |", "|---|---|---|"]

    def get(suite, wl, c, path, key):
        s = S.get((suite, wl, c, path))
        return s.get(key) if s else None

    # 1. CPU per query: sluice (same server as HAProxy) <= HAProxy.
    for suite, wl in (("mysql", "oltp_point_select"), ("pgsql", "oltp_point_select")):
        for c in (8, 32):
            a, b = get(suite, wl, c, "sluice-1node", "cpu"), get(suite, wl, c, "haproxy", "cpu")
            if a is None or b is None:
                out.append("| CPU/query sluice ≤ HAProxy (%s %s, %d clients) | no data (failed or not run) | – |" % (suite, wl, c))
                continue
            out.append("| CPU/query sluice ≤ HAProxy (%s %s, %d clients) | sluice %.1f µs, HAProxy %.1f µs (×%.2f) | %s |" % (
                suite, wl, c, a, b, a / b, "yes" if a <= b else "no, %.0f %% more" % (100 * (a / b - 1))))
    # 2. Throughput ratio within 5 points of HAProxy's at 8 and 32 clients.
    for suite, wl in (("mysql", "oltp_point_select"), ("mysql", "oltp_read_only"),
                      ("pgsql", "oltp_point_select"), ("pgsql", "oltp_read_only")):
        for c in (8, 32):
            d = get(suite, wl, c, "direct", "qps")
            a, b = get(suite, wl, c, "sluice-1node", "qps"), get(suite, wl, c, "haproxy", "qps")
            if None in (a, b, d):
                out.append("| sluice/direct within 5 %% of HAProxy/direct (%s %s, %d) | no data | – |" % (suite, wl, c))
                continue
            ra, rb = a / d, b / d
            out.append("| sluice/direct within 5 %% of HAProxy/direct (%s %s, %d) | %.2f vs %.2f | %s |" % (
                suite, wl, c, ra, rb, "yes" if ra >= rb - 0.05 else "no, %.0f points short" % (100 * (rb - 0.05 - ra))))
    # 3. PostgreSQL transaction mode >= PgBouncer at 32 and 128 clients.
    for wl in ("oltp_point_select", "oltp_read_only"):
        for c in (32, 128):
            a, b = get("pgsql", wl, c, "sluice-1node", "qps"), get("pgsql", wl, c, "pgbouncer", "qps")
            if a is None or b is None:
                out.append("| PG tx mode ≥ PgBouncer (%s, %d) | no data | – |" % (wl, c))
                continue
            out.append("| PG tx mode ≥ PgBouncer (%s, %d) | sluice %.0f QPS, PgBouncer %.0f QPS | %s |" % (
                wl, c, a, b, "yes" if a >= b else "no, %.0f %% less" % (100 * (1 - a / b))))
    # 4. Memory.
    for r, per in memory_rows(mem_path):
        if r["proxy"] != "sluice" or int(r["clients"]) == 0:
            continue
        held = int(r["opened"]) == int(r["clients"])
        ok = per is not None and per <= 1.0 and held
        out.append("| ≤ 1 KiB RSS per idle client, all %s held (%s) | %s KiB/client, %s of %s held | %s |" % (
            r["clients"], r["suite"], "%.2f" % per if per is not None else "?", r["opened"], r["clients"],
            "yes" if ok else "no"))
    # 5. Latency added at 1 client, p50: no more than HAProxy adds (issue #17).
    for suite, wl in LATENCY_CELLS:
        d, a = get(suite, wl, 1, "direct", "p50"), get(suite, wl, 1, "sluice-1node", "p50")
        h = get(suite, wl, 1, "haproxy", "p50")
        if d is None or a is None or h is None:
            out.append("| added p50 latency at 1 client ≤ HAProxy's (%s %s) | no data | – |" % (suite, wl))
            continue
        out.append("| added p50 latency at 1 client ≤ HAProxy's (%s %s) | sluice %+.0f µs, HAProxy %+.0f µs | %s |" % (
            suite, wl, a - d, h - d, "yes" if a <= h else "no, %.0f µs more" % (a - h)))
    # 6. Result streaming: at least HAProxy's MB/s at no more than 1.2 x its CPU per MB.
    for suite in ("mysql", "pgsql"):
        a, h = (streams or {}).get((suite, "sluice-1node"), {}), (streams or {}).get((suite, "haproxy"), {})
        if "mbps" not in a or "mbps" not in h or not a.get("cpu_ms_per_mb") or not h.get("cpu_ms_per_mb"):
            if streams:
                out.append("| streaming ≥ HAProxy's MB/s at ≤ 1.2 × its CPU/MB (%s) | no data | – |" % suite)
            continue
        ratio = a["cpu_ms_per_mb"] / h["cpu_ms_per_mb"]
        ok = a["mbps"] >= h["mbps"] and ratio <= 1.2
        out.append("| streaming ≥ HAProxy's MB/s at ≤ 1.2 × its CPU/MB (%s) | %.0f vs %.0f MB/s, CPU ×%.2f | %s |" % (
            suite, a["mbps"], h["mbps"], ratio, "yes" if ok else "no"))
    out.append("")
    return out


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "sysbench" and len(sys.argv) == 4:
        print(parse_sysbench(sys.argv[2], int(sys.argv[3])))
    elif cmd == "pgbench" and len(sys.argv) == 5:
        print(parse_pgbench(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    elif cmd == "report" and len(sys.argv) in (5, 6):
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) == 6 else None)
    else:
        sys.exit("usage: results.py sysbench OUT RC | pgbench OUT RC LOG_PREFIX | "
                 "report RUNS.tsv MEM.tsv OUT.md [STREAM.tsv]")


if __name__ == "__main__":
    main()
