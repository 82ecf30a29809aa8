#!/usr/bin/env python3
"""torture_valgrind - valgrind memcheck over the integration tests.

Every tests/integration/test_*.py runs with DUMPSTERD pointing at a wrapper
that execs the real binary under `valgrind --tool=memcheck --leak-check=full
--track-fds=no`, one log per process in a directory of the test's own. A row
per test: the dumpsterd processes it ran, memcheck errors, bytes and blocks
definitely lost (a process stopped by SIGKILL writes no leak summary: it is
counted as killed, its errors still count), and whether the test itself passed
under valgrind's slowness (timing windows meant for a native binary can
close; that is shown, it is not a memcheck finding). A row fails on an error
or a definite leak. DD_SANITIZE=1 is set, as for the ASan build, so the
tests that bound the peak RSS check only correctness. The tests run in the
order of the directory; those that no longer fit the time left are listed as
not run. VALGRIND_TESTS=test_a,test_b picks some.
"""
import glob
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from tortlib import HERE, SCALE, Family

# a test starts only while this much of the family's time is left
DEADLINE = float(os.environ.get("TORTURE_DEADLINE",
                                str(time.time() + 1500 * min(1.0, SCALE * 2))))
RESERVE = 30
PER_TEST = 600
VALGRIND = shutil.which("valgrind")

ERROR_LINE = re.compile(r"^==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised"
                        r"|Syscall param|Mismatched free|Source and destination overlap"
                        r"|Argument '.*' of function)", re.M)


def wrapper(dirpath, real):
    path = os.path.join(dirpath, "dumpsterd")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nexec %s --tool=memcheck --leak-check=full --show-leak-kinds=definite '
                '--errors-for-leak-kinds=definite --num-callers=30 --track-fds=no '
                '--log-file="$DD_VG_DIR/vg.%%p.log" %s "$@"\n' % (VALGRIND, real))
    os.chmod(path, 0o755)
    return path


def summarize(logdir):
    """(processes, errors, definitely lost bytes, blocks, killed, first error's text)."""
    procs = errors = lost_b = lost_n = killed = 0
    first = ""
    for p in sorted(glob.glob(os.path.join(logdir, "vg.*.log"))):
        with open(p, errors="replace") as f:
            text = f.read()
        if "Memcheck, a memory error detector" not in text:
            continue
        procs += 1
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m:
            errors += int(m.group(1))
        else:
            killed += 1
            errors += len(ERROR_LINE.findall(text))
        m = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
        if m:
            lost_b += int(m.group(1).replace(",", ""))
            lost_n += int(m.group(2).replace(",", ""))
        if not first:
            e = ERROR_LINE.search(text) or re.search(r"^==\d+== [\d,]+ bytes in [\d,]+ blocks are "
                                                     r"definitely lost.*", text, re.M)
            if e:
                first = "%s: %s" % (os.path.basename(p), text[e.start():e.start() + 600])
    return procs, errors, lost_b, lost_n, killed, first


def run_test(fam, path, env, logdir, left):
    name = os.path.basename(path)[:-3]
    os.makedirs(logdir)
    os.chmod(logdir, 0o777 | stat.S_ISVTX)  # a hub that drops privileges still writes its log
    t0 = time.monotonic()
    outcome = "passed"
    out = os.path.join(logdir, "test.out")
    with open(out, "wb") as f:
        p = subprocess.Popen([sys.executable, path], env=dict(env, DD_VG_DIR=logdir),
                             stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = p.wait(min(PER_TEST, left))
            outcome = {0: "passed", 77: "skipped"}.get(rc, "failed (rc %d)" % rc)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the test's own session, by its id
            p.wait()
            outcome = "stopped after %d s" % min(PER_TEST, left)
    secs = time.monotonic() - t0
    procs, errors, lost_b, lost_n, killed, first = summarize(logdir)
    fig = {"processes": procs, "errors": errors,
           "definitely lost": "%d bytes in %d blocks" % (lost_b, lost_n),
           "killed (no leak summary)": killed, "test under valgrind": outcome}
    problems = []
    if errors:
        problems.append("%d memcheck errors; %s" % (errors, first))
    if lost_b:
        problems.append("%d bytes definitely lost; %s" % (lost_b, first))
    if first and not problems:
        fig["note"] = first[:200]
    print(open(out, errors="replace").read()[-1500:] if outcome.startswith(("failed", "timed"))
          else "", end="")
    fam.record(name, dict(fig, problems="; ".join(problems)[:400]) if problems else fig,
               not problems, secs)


def main():
    fam = Family("valgrind")
    if not VALGRIND:
        fam.record("(setup)", "valgrind is not installed (make deps installs it)", False, 0)
        fam.exit()
    build = os.environ.get("DD_BUILD_DIR", "build")
    real = os.path.abspath(os.environ.get("DUMPSTERD") or os.path.join(build, "dumpsterd"))
    tmp = tempfile.mkdtemp(prefix="ddvalgrind-")
    os.chmod(tmp, 0o755)
    env = dict(os.environ, DUMPSTERD=wrapper(tmp, real), DD_SANITIZE="1",
               DD_BUILD_DIR=os.path.abspath(build))
    tests = sorted(glob.glob(os.path.join(HERE, "..", "integration", "test_*.py")))
    pick = [t for t in os.environ.get("VALGRIND_TESTS", "").split(",") if t]
    if pick:
        tests = [t for t in tests if os.path.basename(t)[:-3] in pick]
    skipped = []
    try:
        for path in tests:
            left = DEADLINE - RESERVE - time.time()
            if left < 60:
                skipped.append(os.path.basename(path)[:-3])
                continue
            run_test(fam, path, env, os.path.join(tmp, os.path.basename(path)[:-3]), left)
    finally:
        if not os.environ.get("VALGRIND_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("valgrind logs kept in %s" % tmp)
    if skipped:
        fam.record("(not run: the family's time bound)", ", ".join(skipped), True, 0)
    fam.exit()


if __name__ == "__main__":
    main()
