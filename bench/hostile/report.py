#!/usr/bin/python3
"""The hostile-client bench's JSON results (bench/hostile/hostile.py) as markdown tables for
docs/reliability.md, with the issue #13 Done-when targets judged.

Usage: report.py [--window S] RESULT.json [...]
"""
import argparse
import json


def fmt(v, unit=""):
    return "–" if v is None else "%s%s" % (v, unit)


def lat(w, k):
    return "%s / %s ms (n=%d)" % (fmt(w[k]["p50_ms"]), fmt(w[k]["p99_ms"]), w[k]["n"])


def errors(w):
    return ", ".join("%s×%d" % kv for kv in sorted(w["errors"].items())) or "0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float)
    ap.add_argument("results", nargs="+")
    args = ap.parse_args()
    rs = [json.load(open(p)) for p in args.results]
    print("| engine | attack | logins p50 / p99, baseline | during | queries p50 / p99, baseline"
          " | during | ratio p50 login / query | ratio p99 login / query | client errors during |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rs:
        for a in ("idle", "preauth", "fds"):
            if a not in r:
                continue
            x = r[a]
            q = x["ratio"]
            print("| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s |" % (
                r["engine"], a, lat(x["baseline"], "logins"), lat(x["attack"], "logins"),
                lat(x["baseline"], "queries"), lat(x["attack"], "queries"),
                fmt(q["logins_p50"]), fmt(q["queries_p50"]), fmt(q["logins_p99"]),
                fmt(q["queries_p99"]), errors(x["attack"])))
    print()
    print("| engine | attack | what happened to sluice |")
    print("|---|---|---|")
    for r in rs:
        if "idle" in r:
            x = r["idle"]
            print("| %s | idle | %d sockets opened and held %.0f s; RSS +%d KiB; sluice fds at the end "
                  "of the window %d; still open after the login timeout (%d ms): %s (last closed "
                  "%s s after opening); sluice %s CPU-s in the window |" % (
                      r["engine"], x["opened"], x["held_s"], x["rss_rise_kib"], x["fds_at_end"],
                      r["client_login_timeout_ms"], fmt(x["still_open_after_timeout"]),
                      fmt(x["last_closed_s"]), x.get("sluice_cpu_s", "–")))
        if "preauth" in r:
            x = r["preauth"]
            print("| %s | preauth | %d senders, %d sends of a 16 MiB − 1 login, %.1f MiB sent; "
                  "RSS %d → peak %d KiB (+%d KiB); sluice %s CPU-s in the window |" % (
                      r["engine"], x["senders"], x["sends"], x["bytes_sent"] / 1048576.0,
                      x["rss_before_kib"], x["rss_peak_kib"], x["rss_rise_kib"],
                      x.get("sluice_cpu_s", "–")))
        if "fds" in r:
            x = r["fds"]
            print("| %s | fds | RLIMIT_NOFILE %d, %d attacker sockets; sluice %.2f CPU-s in %.1f s; "
                  "log +%d bytes |" % (r["engine"], x["limit"], x["attacker_sockets"],
                                       x["sluice_cpu_s"], x["elapsed_s"], x["log_growth_bytes"]))
    big = {r["engine"]: r["bigcmd"] for r in rs if "bigcmd" in r}
    if big:
        print()
        print("| engine | 64 MiB `SELECT LENGTH('aaa…')`: sluice CPU-s (3 runs) | median | wall s |")
        print("|---|---|---|---|")
        for e, b in big.items():
            print("| %s | %s | %s | %s |" % (e, ", ".join(map(str, b["cpu_s"])),
                                              b["cpu_median_s"], ", ".join(map(str, b["wall_s"]))))
        if "mariadb" in big and "postgres" in big and big["postgres"]["cpu_median_s"] > 0:
            print("\nMySQL / PostgreSQL CPU ratio: %.2f" % (
                big["mariadb"]["cpu_median_s"] / big["postgres"]["cpu_median_s"]))
    print()
    for r in rs:
        print("%s: load average %s at the start, %s at the end; sluice alive at the end: %s" % (
            r["engine"], " ".join(r["loadavg_start"]), " ".join(r["loadavg_end"]),
            r["sluice_alive"]))


if __name__ == "__main__":
    main()
