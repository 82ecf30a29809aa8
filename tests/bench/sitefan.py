"""sitefan - `run.py site`: dumpsterctl across a site of many hubs (issue 12).

HUBS dumpsterd processes (BENCH_SITE_HUBS, default 64) on loopback, each with
a small store: MSGS messages (BENCH_SITE_MSGS, default 20) delivered to
smtp-sink and kept in its dumpster, and one resubmission request (to a
destination that refuses connections). Then, with one site file naming every
hub, the wall time of `dumpsterctl stats` and `dumpsterctl requests --all`
(ROUNDS each, medians and maxima) when every hub answers; when one hub is
stopped (SIGSTOP: the kernel still accepts its connections, nothing
answers, so it costs dumpsterctl its --timeout); and when one hub's port is
closed (refused at once). The exit status and the hubs that answered are
checked on every call.
"""
import hashlib
import os
import signal
import socket
import subprocess
import time

import benchlib as B

TOKEN = "site-bench-token"
TOKEN_HASH = hashlib.blake2b(TOKEN.encode(), digest_size=32).hexdigest()


def closed_port():
    """A loopback port nothing listens on (bound and closed again)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ctl(ctl_bin, site, token, argv, timeout_s):
    """One dumpsterctl call: (seconds, exit status, stdout)."""
    cmd = [ctl_bin, "--site", site, "--token-file", token, "--timeout", str(timeout_s)] + argv
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s * 4 + 30)
    return time.monotonic() - t0, p.returncode, p.stdout + p.stderr


def named(out, prefix):
    """The hubs a line of Exchange's form (PREFIX: {HUB (...), ...}) names."""
    for line in out.splitlines():
        if line.startswith(prefix + ":"):
            inner = line.split("{", 1)[1].rstrip("}").strip()
            return [h.split("(")[0].strip() for h in inner.split("),")
                    if h.split("(")[0].strip()]
    return []


def fill(hubs, msgs):
    """MSGS messages into every hub (a few at a time), until each dumpster holds them."""
    running = []
    for dd in hubs:
        running.append(subprocess.Popen(
            [B.SMTP_SOURCE, "-s", "2", "-m", str(msgs), "-l", "1024", "-f", "from@example.net",
             "-t", "rcpt@example.test", "127.0.0.1:%d" % dd.port], stdout=subprocess.DEVNULL))
        if len(running) >= 8:
            running.pop(0).wait()
    for p in running:
        p.wait()
    for dd in hubs:
        B.wait_for(lambda: (dd.dumpster_items() or 0) >= msgs, 120, "dumpster of %d" % dd.port)


def timed(ctl_bin, site, token, argv, rounds, timeout_s, want_rc, want_down, n):
    """ROUNDS calls; their times; raises when one's status or the hubs it names differ."""
    ts = []
    for _ in range(rounds):
        s, rc, out = ctl(ctl_bin, site, token, argv, timeout_s)
        if rc != want_rc:
            raise RuntimeError("dumpsterctl %s: exit %d, not %d:\n%s" % (
                " ".join(argv), rc, want_rc, out[-2000:]))
        if argv[0] == "stats":
            got = (len(named(out, "DumpsterStatistics")),
                   len(named(out, "DumpsterStatisticsNotAvailable")))
        else:
            got = (len({line.split()[0] for line in out.splitlines()
                        if line.startswith("hub")}), want_down)
        if got != (n - want_down, want_down):
            raise RuntimeError("dumpsterctl %s: hubs answering / not %s, not %s:\n%s" % (
                argv[0], got, (n - want_down, want_down), out[-2000:]))
        ts.append(s)
    return ts


def cmd_site(args, write_block, machine_md):
    n = int(os.environ.get("BENCH_SITE_HUBS", "64"))
    msgs = int(os.environ.get("BENCH_SITE_MSGS", "20"))
    rounds = int(os.environ.get("BENCH_SITE_ROUNDS", "10"))
    timeout_s = 2
    ctl_bin = os.path.join(os.path.dirname(os.path.abspath(args.dumpsterd)), "dumpsterctl")
    sink = B.Sink().start()
    hubs = []
    rows = ["| site | command | calls | median s | max s | exit | unavailable |",
            "|---|---|---|---|---|---|---|"]
    try:
        t0 = time.monotonic()
        for i in range(n):
            dd = B.Dumpsterd(args.dumpsterd, args.tmp, sink.dest(), False,
                             admin_token_hash=TOKEN_HASH, hub_extra={"name": "hub%02d" % i})
            hubs.append(dd.start(wait=False))
        for dd in hubs:
            dd.wait_up()
        B.log("site: %d hubs up in %.1f s" % (n, time.monotonic() - t0))
        fill(hubs, msgs)
        token = os.path.join(args.tmp, "site-token")
        with open(token, "w") as f:
            f.write(TOKEN + "\n")
        site = os.path.join(args.tmp, "site.conf")
        with open(site, "w") as f:
            for i, dd in enumerate(hubs):
                f.write("hub%02d http://127.0.0.1:%d\n" % (i, dd.admin_port))
        dead = closed_port()
        s, rc, out = ctl(ctl_bin, site, token, [
            "resubmit", "--sg", "SG1", "--start", "-1h", "--end", "now", "--match", "received",
            "--dest", "smtp:[127.0.0.1]:%d" % dead, "--no-probe", "--reason", "site bench"],
            30)
        if rc != 0:
            raise RuntimeError("dumpsterctl resubmit: exit %d:\n%s" % (rc, out[-2000:]))
        B.log("site: a request on each hub (%.2f s)" % s)
        cases = [("%d hubs" % n, site, 0, 0)]
        stopped_site = site  # the same file; its last hub gets SIGSTOP
        refused_site = os.path.join(args.tmp, "site-refused.conf")
        with open(refused_site, "w") as f:
            for i, dd in enumerate(hubs[:-1]):
                f.write("hub%02d http://127.0.0.1:%d\n" % (i, dd.admin_port))
            f.write("hub%02d http://127.0.0.1:%d\n" % (n - 1, dead))
        for title, path, rc_want, down in cases:
            for argv in (["stats"], ["requests", "--all"]):
                ts = timed(ctl_bin, path, token, argv, rounds, timeout_s, rc_want, down, n)
                rows.append("| %s | %s | %d | %.3f | %.3f | %d | %d |" % (
                    title, " ".join(argv), len(ts), B.median(ts), max(ts), rc_want, down))
        for argv in (["stats"], ["requests", "--all"]):
            ts = timed(ctl_bin, refused_site, token, argv, rounds, timeout_s, 69, 1, n)
            rows.append("| %d hubs, one port closed | %s | %d | %.3f | %.3f | 69 | 1 |" % (
                n, " ".join(argv), len(ts), B.median(ts), max(ts)))
        os.kill(hubs[-1].pid, signal.SIGSTOP)
        try:
            for argv in (["stats"], ["requests", "--all"]):
                ts = timed(ctl_bin, stopped_site, token, argv, max(3, rounds // 3), timeout_s,
                           69, 1, n)
                rows.append("| %d hubs, one stopped (--timeout %d) | %s | %d | %.3f | %.3f | "
                            "69 | 1 |" % (n, timeout_s, " ".join(argv), len(ts), B.median(ts),
                                          max(ts)))
        finally:
            os.kill(hubs[-1].pid, signal.SIGCONT)
    finally:
        for dd in hubs:
            try:
                dd.stop()
            except Exception as e:  # one hub's trouble must not leave the others running
                B.log("site: stopping %d: %s" % (dd.port, e))
        sink.stop()
    print("\n".join(rows))
    text = ("## A site: dumpsterctl across %d hubs (%s)\n\n" % (n, args.label) +
            machine_md(args.argv_text) +
            "- %d dumpsterd on loopback, each with %d messages of 1 KiB in its dumpster and "
            "one resubmission request (listed by `requests --all`); one site file; wall "
            "time of each dumpsterctl call (a process start included), %d calls per row; a "
            "stopped hub (SIGSTOP) costs the --timeout, a closed port is refused at once. Target "
            "(issue 12): stats and requests across 64 hubs in under 1 s, one dead hub costs "
            "only its timeout.\n\n" % (n, msgs, rounds) + "\n".join(rows) + "\n")
    write_block(args.out, "site-" + args.label, text)
