#!/usr/bin/env python3
"""run.py - run the libFuzzer targets on the kept corpus; print execs and coverage.

Each target NAME reads two corpus directories: tests/fuzz/corpus/NAME/ (kept
in git, minimized) and BUILD/corpus-NAME/ (scratch, where libFuzzer writes
what it finds). A run is bounded by --seconds (-max_total_time) or --runs
(-runs, e.g. 10000000 for the 10 M executions of issue 11). A crash, a leak
or a timeout fails the target; its artifact lands in BUILD/NAME-crash-...
and the log's tail is printed. --merge folds the scratch corpus into the
kept one with -merge=1 (the smallest set of inputs that keeps every feature),
refusing a result over --max-bytes per target so the tree stays small.

--seed first copies tests/fuzz/seeds.py's hand-written inputs into the
scratch corpora, so a merge can take them in. A merge that comes out over
--max-bytes or --max-files keeps its smallest inputs up to both bounds (and
says how many it left out).

One line per run goes to BUILD/fuzz-runs.tsv: date, target, executions,
seconds, cov, ft, corpus files, verdict.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KEPT = os.path.join(HERE, "corpus")
MAX_LEN = 8192


def targets(build, names):
    found = sorted(p for p in glob.glob(os.path.join(build, "fuzz_*"))
                   if os.access(p, os.X_OK) and os.path.isfile(p))
    if names:
        found = [p for p in found if os.path.basename(p) in names]
    return found


def corpus_size(d):
    files = [os.path.join(d, f) for f in os.listdir(d)] if os.path.isdir(d) else []
    return len(files), sum(os.path.getsize(f) for f in files)


def figures(log):
    """(execs, cov, ft) from a libFuzzer log: the final stats, else the last status line."""
    execs = cov = ft = None
    m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if m:
        execs = int(m[-1])
    status = re.findall(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+)", log, re.M)
    if status:
        n, c, f = status[-1]
        execs = execs if execs is not None else int(n)
        cov, ft = int(c), int(f)
    return execs, cov, ft


def verdict_of(rc, log):
    """ok, or what failed the run: crash, leak, timeout, oom."""
    if rc == 0:
        return "ok"
    if "ERROR: LeakSanitizer" in log:
        return "leak"
    if "ERROR: libFuzzer: timeout" in log:
        return "timeout"
    if "out-of-memory" in log:
        return "oom"
    return "crash"


def run_target(path, build, args):
    name = os.path.basename(path)
    kept = os.path.join(KEPT, name)
    scratch = os.path.join(build, "corpus-" + name)
    os.makedirs(kept, exist_ok=True)
    os.makedirs(scratch, exist_ok=True)
    bound = ["-runs=%d" % args.runs] if args.runs else ["-max_total_time=%d" % args.seconds]
    cmd = [path, "-max_len=%d" % MAX_LEN, "-print_final_stats=1",
           "-artifact_prefix=%s-" % os.path.join(build, name)] + bound + [scratch, kept]
    logpath = os.path.join(build, name + ".log")
    t0 = time.monotonic()
    with open(logpath, "wb") as logf:
        rc = subprocess.call(cmd, stdout=logf, stderr=subprocess.STDOUT)
    secs = time.monotonic() - t0
    with open(logpath, errors="replace") as f:
        log = f.read()
    execs, cov, ft = figures(log)
    verdict = verdict_of(rc, log)
    if rc != 0:
        sys.stdout.write("".join(log.splitlines(True)[-40:]))
        print("FAILED: %s (rc %d, log %s)" % (name, rc, logpath))
    return dict(name=name, execs=execs, secs=secs, cov=cov, ft=ft, verdict=verdict,
                files=corpus_size(kept)[0] + corpus_size(scratch)[0])


def trim(d, max_bytes, max_files):
    """Keep d's smallest inputs within both bounds; the number left out."""
    files = sorted((os.path.getsize(os.path.join(d, f)), f) for f in os.listdir(d))
    total, kept = 0, 0
    for size, f in files:
        if kept < max_files and total + size <= max_bytes:
            total += size
            kept += 1
        else:
            os.unlink(os.path.join(d, f))
    return len(files) - kept


def merge_target(path, build, max_bytes, max_files):
    """Fold the scratch corpus into the kept one, within the bounds; False on a failure."""
    name = os.path.basename(path)
    kept = os.path.join(KEPT, name)
    scratch = os.path.join(build, "corpus-" + name)
    tmp = os.path.join(build, "merge-" + name)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    os.makedirs(kept, exist_ok=True)
    os.makedirs(scratch, exist_ok=True)
    with open(os.path.join(build, name + ".merge.log"), "wb") as logf:
        rc = subprocess.call([path, "-merge=1", "-max_len=%d" % MAX_LEN, tmp, kept, scratch],
                             stdout=logf, stderr=subprocess.STDOUT)
    if rc != 0:
        print("merge %s: FAILED (rc %d): kept corpus unchanged" % (name, rc))
        return False
    left = trim(tmp, max_bytes, max_files)
    files, size = corpus_size(tmp)
    shutil.rmtree(kept)
    os.rename(tmp, kept)
    print("merge %s: %d files, %d bytes%s" % (
        name, files, size, ", %d larger inputs left out by the bounds" % left if left else ""))
    return True


def seed(build, paths):
    """Copy seeds.py's inputs into the scratch corpora of the chosen targets."""
    import seeds
    for p in paths:
        name = os.path.basename(p)
        scratch = os.path.join(build, "corpus-" + name)
        os.makedirs(scratch, exist_ok=True)
        for i, data in enumerate(seeds.SEEDS.get(name, [])):
            with open(os.path.join(scratch, "seed-%d" % i), "wb") as f:
                f.write(data)


def fmt(v):
    return "-" if v is None else "{:,}".format(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-fuzz")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--runs", type=int, default=0, help="executions per target (0: by time)")
    ap.add_argument("--merge", action="store_true", help="only merge scratch into the kept corpus")
    ap.add_argument("--seed", action="store_true", help="put seeds.py's inputs in the scratch corpora")
    ap.add_argument("--max-bytes", type=int, default=1 << 20, help="bound of a kept corpus")
    ap.add_argument("--max-files", type=int, default=400, help="bound of a kept corpus")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    paths = targets(args.build, args.names)
    if not paths:
        print("no fuzz targets in %s" % args.build)
        return 1
    if args.seed:
        seed(args.build, paths)
    if args.merge:
        return 0 if all([merge_target(p, args.build, args.max_bytes, args.max_files)
                         for p in paths]) else 1
    rows = []
    for p in paths:
        print("== %s" % os.path.basename(p), flush=True)
        rows.append(run_target(p, args.build, args))
        r = rows[-1]
        with open(os.path.join(args.build, "fuzz-runs.tsv"), "a") as f:
            f.write("\t".join([time.strftime("%Y-%m-%dT%H:%M:%S"), r["name"], str(r["execs"]),
                               "%.0f" % r["secs"], str(r["cov"]), str(r["ft"]),
                               str(r["files"]), r["verdict"]]) + "\n")
    print("\n| target | executions | seconds | cov | ft | corpus files | crash | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %.0f | %s | %s | %s | %s | %s |" % (
            r["name"], fmt(r["execs"]), r["secs"], fmt(r["cov"]), fmt(r["ft"]),
            fmt(r["files"]), "no" if r["verdict"] == "ok" else "yes", r["verdict"]))
    return 0 if all(r["verdict"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
