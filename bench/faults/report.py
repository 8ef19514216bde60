#!/usr/bin/python3
"""Writes a fault campaign's JSON (campaign.py --json) into docs/reliability.md.

    report.py RUN.json --code "COMMIT (what it is)" [--block NAME] [--doc docs/reliability.md]

Replaces the block between <!-- faults:NAME begin --> and <!-- faults:NAME end --> (NAME:
the engine unless given) with
the command, the seed, the code it ran on, the per-cycle table, the summary and the issue's
targets against the figures, so that no number in that block is typed by hand.
"""
import argparse
import json
import os
import re
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from campaign import summarize  # noqa: E402


def codes(d):
    return ", ".join("%s×%d" % (k, v) for k, v in sorted(d.items())) or "0"


def render(run, code):
    a = run["args"]
    rows = run["rows"]
    s = run.get("summary") or summarize(rows, a["seed"], a["engine"])
    argv = ["bench/faults/campaign.py", "--engine", a["engine"], "--sluice", a["sluice"],
            "--cycles", str(a["cycles"]), "--seed", str(a["seed"])]
    for k in ("monitor_interval_ms", "failover_window_ms", "stop_seconds", "resume_timeout",
              "settle_timeout"):
        argv += ["--" + k.replace("_", "-"), str(a[k])]
    for kv in a.get("sluice_option") or []:
        argv += ["--sluice-option", kv]
    if a.get("no_belt_and_braces"):
        argv.append("--no-belt-and-braces")
    cmd = "/usr/bin/python3 " + " ".join(shlex.quote(x) for x in argv)
    out = ["Command: `%s`" % cmd, "",
           "Seed %d, sluice built from %s; monitor_interval_ms=%d, failover_window_ms=%d, "
           "SIGSTOP %.0f s." % (a["seed"], code, a["monitor_interval_ms"],
                                a["failover_window_ms"], a["stop_seconds"]), ""]
    if any("first_failed_check_s" in r for r in rows):
        out += ["Late: writes started after sluice's first `WRITES_HELD` of the cycle.", ""]
    else:
        out += ["Late: writes started more than one monitor interval after the fault (runs "
                "before 48b00ab).", ""]
    if run.get("error"):
        out += ["**The campaign stopped after %d cycles:** %s" % (len(rows), run["error"]), ""]
    out += ["| cycle | fault | node (role) | downtime s | acked | lost | writable after (max seen) "
            "| write errors | of which late | read errors | ok |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| %d | %s | %s | %s | %d | %d | %d (%d) | %s | %s | %s | %s |" % (
            r["cycle"], r["fault"], r["target"],
            "none" if r["downtime_s"] is None else "%.2f" % r["downtime_s"], r["acked"],
            r["lost"], len(r["writable_after"]), r["max_writable"], codes(r["write_errors"]),
            codes(r["late_write_errors"]), codes(r["read_errors"]),
            "yes" if r["ok"] else "**no**"))
    out += ["", "Summary: %d cycles, writes resumed in %d; downtime median %s s, max %s s "
            "(primary faults only: median %s s); %d writes acknowledged, %d lost; at most %d "
            "writable node(s) seen; %d write errors (%d late), %d read errors; failed cycles: %s."
            % (s["cycles"], s["resumed"], s["median_downtime_s"], s["max_downtime_s"],
               s["median_primary_downtime_s"], s["acked"], s["lost"], s["max_writable"],
               s["write_errors"], s["late_write_errors"], s["read_errors"],
               ", ".join(map(str, s["failed_cycles"])) or "none"), ""]
    med = s["median_downtime_s"]
    pmed = s["median_primary_downtime_s"]
    targets = [
        ("0 acknowledged writes lost", "%d lost" % s["lost"], s["lost"] == 0),
        ("never two writable nodes", "at most %d" % s["max_writable"], s["max_writable"] <= 1),
        ("median fault → first write < 3 s", "%s s (primary faults: %s s)" % (med, pmed),
         med is not None and med < 3 and (pmed is None or pmed < 3) and s["not_resumed"] == 0),
        ("0 errors for writes after the first failed check", "%d late" % s["late_write_errors"],
         s["late_write_errors"] == 0),
    ]
    if run.get("error"):
        targets.append(("all cycles ran", "%d of %d" % (len(rows), a["cycles"]), False))
    out += ["| target (issue #11) | measured | met |", "|---|---|---|"]
    out += ["| %s | %s | %s |" % (t, m, "yes" if ok else "**no**") for t, m, ok in targets]
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("json")
    p.add_argument("--code", required=True, help="the commit the sluice binary was built from")
    p.add_argument("--block", default=None, help="block name (default: the engine)")
    p.add_argument("--doc", default=os.path.join(HERE, "..", "..", "docs", "reliability.md"))
    a = p.parse_args()
    with open(a.json) as f:
        run = json.load(f)
    engine = a.block or run["args"]["engine"]
    with open(a.doc) as f:
        doc = f.read()
    begin, end = "<!-- faults:%s begin -->" % engine, "<!-- faults:%s end -->" % engine
    pat = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pat.search(doc):
        sys.exit("%s has no %s ... %s block" % (a.doc, begin, end))
    doc = pat.sub(lambda _: begin + "\n" + render(run, a.code) + "\n" + end, doc)
    with open(a.doc, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
