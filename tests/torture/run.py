#!/usr/bin/env python3
"""run.py - `make torture`: every torture family, each bounded in time, then one table.

Each family is tests/torture/torture_NAME.py, run in a session of its own with a
time bound (scaled by TORTURE_SCALE, never under 120 s; TORTURE_DEADLINE tells
the family when it ends, as a Unix time); one that overruns is stopped (its
process group, by id) and gets a FAIL row. The bounds add up to 54 minutes at
scale 1, so `make torture` ends within the hour. The families write their
rows (family, case, figures, verdict) to one results file; the table is printed
at the end and written to BUILD/torture-figures.md. Exit 1 when a row failed.

    python3 tests/torture/run.py [--build build] [FAMILY ...]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = float(os.environ.get("TORTURE_SCALE", "1"))

# family: time bound in seconds at scale 1
FAMILIES = [
    ("sigkill", 600),
    ("diskfull", 420),
    ("downstream", 300),
    ("abuse", 420),
    ("valgrind", 1500),
]


def run_family(name, bound, env):
    path = os.path.join(HERE, "torture_%s.py" % name)
    t0 = time.monotonic()
    print("==== %s (bound %d s)" % (name, bound), flush=True)
    env = dict(env, TORTURE_DEADLINE="%.0f" % (time.time() + bound))
    p = subprocess.Popen([sys.executable, path], env=env, start_new_session=True)
    try:
        rc = p.wait(bound)
        timed_out = False
    except subprocess.TimeoutExpired:
        # the family's own session, by its id: SIGTERM lets its cleanups run (hubs
        # stopped, tmpfs unmounted), SIGKILL what is left after 20 s
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        rc, timed_out = None, True
    return rc, timed_out, time.monotonic() - t0


def table(rows):
    out = ["| family | case | figures | verdict |", "|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s |" % (r["family"], r["case"],
                                              r["figures"].replace("|", "/"), r["verdict"]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("DD_BUILD_DIR", "build"))
    ap.add_argument("families", nargs="*")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    unknown = set(args.families) - {n for n, _ in FAMILIES}
    if unknown:
        print("unknown families: %s (known: %s)" % (" ".join(sorted(unknown)),
                                                     " ".join(n for n, _ in FAMILIES)))
        return 2
    chosen = [(n, b) for n, b in FAMILIES if not args.families or n in args.families]
    fd, results = tempfile.mkstemp(prefix="torture-", suffix=".jsonl")
    os.close(fd)
    env = dict(os.environ, TORTURE_RESULTS=results, DD_BUILD_DIR=build,
               DUMPSTERD=os.path.join(build, "dumpsterd"), DD_SOURCE_DIR=os.path.dirname(
                   os.path.dirname(HERE)), PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    summary = []
    for name, bound in chosen:
        bound = max(120, int(bound * min(1.0, SCALE * 2)))
        rc, timed_out, secs = run_family(name, bound, env)
        summary.append((name, rc, timed_out, secs))
    rows = []
    with open(results) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    os.unlink(results)
    for name, rc, timed_out, secs in summary:
        if timed_out:
            rows.append({"family": name, "case": "(time bound)", "verdict": "FAIL",
                         "figures": "stopped after %.0f s" % secs})
        elif rc != 0 and not any(r["family"] == name and r["verdict"] == "FAIL" for r in rows):
            rows.append({"family": name, "case": "(exit)", "verdict": "FAIL",
                         "figures": "exited %s without a failed row" % rc})
    total = time.monotonic() - t0
    text = table(rows)
    times = ", ".join("%s %.0f s" % (n, s) for n, _, _, s in summary)
    footer = "TORTURE_SCALE=%g; %s; total %.0f s (%s)" % (
        SCALE, time.strftime("%Y-%m-%d %H:%M"), total, times)
    print("\n" + text + "\n\n" + footer)
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, "torture-figures.md"), "w") as f:
        f.write(text + "\n\n" + footer + "\n")
    return 1 if any(r["verdict"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
