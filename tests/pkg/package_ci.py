#!/usr/bin/env python3
"""package_ci - the Debian package, installed and run on this machine (CI, root).

    python3 tests/pkg/package_ci.py build-pkg/dumpsterd_VERSION_ARCH.deb

Installs the package with dpkg, checks what postinst made (the dumpsterd
system user, /var/lib/dumpsterd 0700, nothing enabled or started), runs
systemd-analyze on the installed unit, starts the installed binary as root
with the installed configuration moved to test ports on loopback, sees it run
as dumpsterd (/proc/PID/task/*/status), sends one message with swaks, stops it
by its pid, then removes and purges the package: remove keeps the
configuration and the state, purge keeps a state that holds mail unless
DUMPSTERD_PURGE_STATE=yes. Also checks that make install (DESTDIR) keeps an
existing /etc/dumpsterd/dumpsterd.conf. Prints one line per step and
"N passed, N failed".
"""
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from ddtest import free_port, wait_for  # noqa: E402

STATE = "/var/lib/dumpsterd"
CONF = "/etc/dumpsterd/dumpsterd.conf"
UNIT = "/lib/systemd/system/dumpsterd.service"
DEB = None


def sh(*cmd, env=None, check=True):
    """Run cmd; (rc, stdout + stderr); raise when check and rc != 0."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                       timeout=600)
    out = p.stdout + p.stderr
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, out))
    return p.returncode, out


def installed():
    rc, out = sh("dpkg-query", "-W", "-f=${Status}", "dumpsterd", check=False)
    return rc == 0 and "install ok installed" in out


def purge(yes):
    env = dict(os.environ, DUMPSTERD_PURGE_STATE="yes" if yes else "no")
    return sh("dpkg", "--purge", "dumpsterd", env=env)[1]


def version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(dumpsterd VERSION ([0-9.]+)", f.read()).group(1)


def test_make_install_keeps_conffiles():
    dest = tempfile.mkdtemp(prefix="dd-destdir-")
    try:
        install = ("make", "-C", SRC, "install", "PREFIX=/usr", "DESTDIR=" + dest)
        sh(*install)
        for path in ("/usr/sbin/dumpsterd", "/usr/bin/dumpsterctl", CONF,
                     "/etc/dumpsterd/directory.tsv", UNIT,
                     "/usr/share/man/man5/dumpsterd.conf.5.gz"):
            assert os.path.exists(dest + path), path
        with open(dest + CONF, "a") as f:
            f.write("# the operator's change\n")
        rc, out = sh(*install)
        assert "Kept: %s%s" % (dest, CONF) in out, out
        with open(dest + CONF) as f:
            assert f.read().endswith("# the operator's change\n")
    finally:
        shutil.rmtree(dest)


def test_clean_slate():
    if installed():
        purge(True)
    assert not installed()


def test_dpkg_install():
    sh("dpkg", "-i", DEB)
    assert installed()
    pw = pwd.getpwnam("dumpsterd")
    assert pw.pw_uid < 1000 and pw.pw_dir == STATE, pw
    assert pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"), pw.pw_shell
    st = os.stat(STATE)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (pw.pw_uid, 0o700), (st.st_uid, oct(st.st_mode))
    rc, out = sh("dpkg-query", "-W", "-f=${Conffiles}", "dumpsterd")
    for f in (CONF, "/etc/dumpsterd/directory.tsv"):
        assert f in out, out
    assert not os.path.lexists("/etc/systemd/system/multi-user.target.wants/dumpsterd.service")
    rc, out = sh("pgrep", "-x", "dumpsterd", "-u", "dumpsterd", check=False)
    assert rc == 1, "the package started a hub: " + out


def test_installed_versions_and_config():
    rc, out = sh("/usr/sbin/dumpsterd", "-V")
    assert out.splitlines()[0] == "dumpsterd " + version(), out
    print("    " + out.strip().replace("\n", "\n    "))
    rc, out = sh("/usr/bin/dumpsterctl", "--version")
    assert out.splitlines()[0] == "dumpsterctl " + version(), out
    sh("/usr/sbin/dumpsterd", "-c", CONF, "-t")


def test_systemd_analyze():
    rc, out = sh("systemd-analyze", "verify", UNIT, check=False)
    print("    systemd-analyze verify: exit %d%s" % (rc, (": " + out.strip()) if out.strip() else ""))
    assert rc == 0, out
    rc, out = sh("systemd-analyze", "security", "--offline=yes", UNIT, check=False)
    score = re.search(r"Overall exposure level for dumpsterd.service: ([0-9.]+)", out)
    assert score, out
    print("    systemd-analyze security --offline=yes: %s" % score.group(0))
    assert float(score.group(1)) <= 2.0, out


def task_uids(pid):
    uids = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("Uid:", "Gid:")):
                    uids.add((line.split(":")[0], tuple(line.split()[1:])))
    return uids


def test_run_installed_as_root():
    pw = pwd.getpwnam("dumpsterd")
    smtp, admin = free_port(), free_port()
    with open(CONF) as f:
        text = f.read()
    text, n1 = re.subn(r"(?m)^listen = 127\.0\.0\.1:25\b", "listen = 127.0.0.1:%d" % smtp, text)
    text, n2 = re.subn(r"(?m)^listen = 127\.0\.0\.1:8025\b", "listen = 127.0.0.1:%d" % admin,
                       text)
    assert n1 == 1 and n2 == 1, "the installed config no longer listens on :25 and :8025"
    fd, conf = tempfile.mkstemp(prefix="dd-ci-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    log = open(conf + ".log", "w+")
    proc = subprocess.Popen(["/usr/sbin/dumpsterd", "-c", conf], stdout=log, stderr=log, cwd="/")
    try:
        def greets():
            assert proc.poll() is None, "dumpsterd exited %s" % proc.returncode
            try:
                with socket.create_connection(("127.0.0.1", smtp), timeout=2) as s:
                    return s.recv(512).startswith(b"220")
            except OSError:
                return False
        wait_for(greets, what="the installed dumpsterd to greet")
        want = {("Uid", (str(pw.pw_uid),) * 4), ("Gid", (str(pw.pw_gid),) * 4)}
        assert task_uids(proc.pid) == want, task_uids(proc.pid)
        print("    pid %d runs as dumpsterd (uid %d) in every thread" % (proc.pid, pw.pw_uid))
        rc, out = sh("swaks", "--server", "127.0.0.1:%d" % smtp, "--from", "ci@example.net",
                     "--to", "someone@example.test", "--header", "Subject: package CI",
                     "--timeout", "30")
        m = re.search(r"<-\s+250 2\.0\.0 Ok: queued as (\w+)", out)
        assert m, out
        qid = m.group(1)
        db = os.path.join(STATE, "dumpsterd.db")
        st = os.stat(db)
        assert st.st_uid == pw.pw_uid and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30) as c:
            assert c.execute("SELECT count(*) FROM message WHERE queue_id=?",
                             (qid,)).fetchone()[0] == 1
        print("    swaks: 250 queued as %s; in %s (dumpsterd, 0600)" % (qid, db))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        text = log.read()
        log.close()
        os.unlink(conf)
        os.unlink(conf + ".log")
    assert "running as user dumpsterd (uid %d" % pw.pw_uid in text, text


def test_remove_keeps_config_and_state():
    sh("dpkg", "-r", "dumpsterd")
    assert not os.path.exists("/usr/sbin/dumpsterd")
    assert os.path.exists(CONF) and os.path.exists(os.path.join(STATE, "dumpsterd.db"))


def test_purge_keeps_mail_unless_asked():
    out = purge(False)
    assert not os.path.exists("/etc/dumpsterd"), os.listdir("/etc/dumpsterd")
    assert os.path.exists(os.path.join(STATE, "dumpsterd.db")), out
    assert "kept %s" % STATE in out, out
    pwd.getpwnam("dumpsterd")  # the user stays
    sh("dpkg", "-i", DEB)  # again, over the old user and state
    assert os.path.exists(os.path.join(STATE, "dumpsterd.db"))
    purge(True)
    assert not installed() and not os.path.exists(STATE)


def main():
    global DEB
    if len(sys.argv) != 2 or os.geteuid() != 0:
        sys.stderr.write("usage (as root): package_ci.py DEB\n")
        return 64
    DEB = os.path.abspath(sys.argv[1])
    steps = [test_make_install_keeps_conffiles, test_clean_slate, test_dpkg_install,
             test_installed_versions_and_config, test_systemd_analyze, test_run_installed_as_root,
             test_remove_keeps_config_and_state, test_purge_keeps_mail_unless_asked]
    failed = 0
    for t in steps:
        t0 = time.monotonic()
        try:
            t()
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - report, go on: later steps clean up
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e), flush=True)
    if installed():
        purge(True)
    print("%d passed, %d failed" % (len(steps) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
