"""The short form of `make demo` (tests/demo/demo.py --short) as a test.

Two hubs, two real Dovecots, a lossy failover and `dumpsterctl failover`: the
demo must end with every lost copy back, counted from the replica's maildirs
and no duplicate (the hubs' probes ask the recovered Dovecot; demo.py exits 1
otherwise). Also checked: it stops everything it started and removes its work dir,
and it fails when the resubmitted window misses part of the loss.
"""
import os
import re
import subprocess
import sys

from ddtest import run
import dovecot as dc

TOP = os.environ.get("DD_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEMO = os.path.join(TOP, "tests", "demo", "demo.py")


def leftovers(work):
    """Processes whose command line names the demo's work dir."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if work.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            continue
    return out


def demo(*args):
    p = subprocess.run([sys.executable, DEMO, "--short"] + list(args), capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, DD_NETNS=""))
    return p, p.stdout + p.stderr


def test_demo_short():
    p, out = demo()
    assert p.returncode == 0, "demo exited %d:\n%s" % (p.returncode, out[-6000:])
    m = re.search(r"recovered (\d+)/(\d+) lost copies, duplicates (\d+)", out)
    assert m, out[-3000:]
    back, lost, dups = map(int, m.groups())
    assert lost > 0 and back == lost, m.group(0)
    for needle in ("DumpsterStatistics: {hub1 (", "hub2: request 1 pending: SG1",
                   "OutstandingDumpsterRequests: {}", "== OK"):
        assert needle in out, "%r not in the demo's output:\n%s" % (needle, out[-4000:])
    assert dups == 0, m.group(0)
    work = re.search(r"work dir (\S+)", out).group(1)
    assert not os.path.exists(work), work
    assert leftovers(work) == [], leftovers(work)


def test_demo_fails_on_a_missing_copy():
    """A window that starts half way through the loss misses copies: exit 1."""
    p, out = demo("--narrow")
    assert p.returncode == 1, "demo exited %d:\n%s" % (p.returncode, out[-4000:])
    m = re.search(r"recovered (\d+)/(\d+) lost copies", out)
    assert m and int(m.group(1)) < int(m.group(2)), out[-3000:]
    assert "MISSING: " in out and "== FAILED" in out, out[-3000:]


if __name__ == "__main__":
    why = dc.usable()
    if why:
        print("skip: %s" % why)
        sys.exit(77)
    sys.exit(1 if run([test_demo_short, test_demo_fails_on_a_missing_copy]) else 0)
