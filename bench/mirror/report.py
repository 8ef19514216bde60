#!/usr/bin/python3
# The report of bench/mirror/run.sh: per setup x workload, the medians of the rounds with the
# mirror off and on, their ratio, and sluice's CPU per statement (docs/performance.md).
#
#   report.py RUNS.tsv FORK.txt LOAD_START.txt LOAD_END.txt COMMIT  -> markdown on stdout
import statistics
import sys

WORKLOAD = {
    ("mysql", "oltp_read_write"): "MariaDB sysbench oltp_read_write (prepared, transactions)",
    ("mysql", "oltp_point_select"): "MariaDB sysbench oltp_point_select (prepared)",
    ("pgsql", "tpcb"): "PostgreSQL pgbench TPC-B -M prepared",
    ("pgsql", "select"): "PostgreSQL pgbench -S -M prepared",
}
SETUP = {
    "same": "shadow at the same priority",
    "niced": "shadow at nice 19",
}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    runs_path, fork_path, load_start, load_end, commit = sys.argv[1:6]
    with open(runs_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]
    cells = {}
    failed = []
    for r in rows:
        if r["status"] != "OK":
            failed.append(r)
            continue
        n = int(r["statements"])
        cells.setdefault((r["setup"], r["suite"], r["workload"], r["mirror"]), []).append({
            "qps": float(r["qps"]),
            "cpu": int(r["cpu_us"]) / n if n else float("nan"),
            "mirrored": int(r["mirrored"]) / n if n else 0.0,
            "cuts": int(r["cuts"]),
        })
    out = ["# Mirror cost: mirroring off vs on (exposure 1.0)", ""]
    out.append("sluice `%s`; fork positions: %s" % (
        commit, "; ".join(l.strip() for l in open(fork_path) if l.strip())))
    out.append("")
    out.append("Load: start `%s`, end `%s`" % (open(load_start).read().strip(),
                                               open(load_end).read().strip()))
    out.append("")
    out.append("Median of the rounds; statements/s; sluice CPU = (utime + stime of sluice) / "
               "statements; mirrored = statements the shadow was given / statements run.")
    out.append("")
    out.append("| setup | workload | stmt/s off | stmt/s on | on/off | sluice µs/stmt off | "
               "sluice µs/stmt on | on/off | mirrored | cuts | rounds |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for setup in ("same", "niced"):
        for key, title in WORKLOAD.items():
            off = cells.get((setup, key[0], key[1], "off"), [])
            on = cells.get((setup, key[0], key[1], "on"), [])
            if not off or not on:
                out.append("| %s | %s | FAILED | | | | | | | | |" % (SETUP[setup], title))
                continue
            q0, q1 = med([c["qps"] for c in off]), med([c["qps"] for c in on])
            c0, c1 = med([c["cpu"] for c in off]), med([c["cpu"] for c in on])
            out.append("| %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f | %.0f %% | %d | %d/%d |" % (
                SETUP[setup], title, q0, q1, q1 / q0, c0, c1, c1 / c0,
                100 * med([c["mirrored"] for c in on]), sum(c["cuts"] for c in on),
                len(off), len(on)))
    if failed:
        out += ["", "Runs that did not count:", ""]
        for r in failed:
            out.append("- %s %s %s mirror %s round %s: %s" % (
                r["setup"], r["suite"], r["workload"], r["mirror"], r["round"], r["note"]))
    print("\n".join(out))


if __name__ == "__main__":
    main()
