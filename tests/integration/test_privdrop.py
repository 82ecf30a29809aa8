#!/usr/bin/env python3
"""Started as root, dumpsterd binds, then runs as [hub] user (SPEC section 10).

As root only (exit 77 otherwise). The hub listens on ports below 1024 for
SMTP and the admin API, so both are bound before the drop; then every
thread of the process has the user's ids (/proc/PID/task/*/status), the
store's files belong to the user with mode 0600 and data_dir is 0700. A
data_dir or store file owned by another user, and an unknown user, stop
the start with one line that says how to fix it.
"""
import grp
import os
import pwd
import smtplib
import socket
import subprocess
import sys
import urllib.request

from ddtest import DUMPSTERD, Hub, run, wait_for

USER = "nobody"


def low_port(skip=()):
    """A free port below 1024 on 127.0.0.1 (we are root)."""
    for port in range(1023, 600, -1):
        if port in skip:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below 1024")


def proc_ids(pid):
    """{task id: (uids, gids, groups)} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        f = {}
        with open("/proc/%d/task/%s/status" % (pid, tid)) as st:
            for line in st:
                k, _, v = line.partition(":")
                f[k] = v.split()
        out[tid] = (f["Uid"], f["Gid"], f.get("Groups", []), f["CapEff"], f["CapPrm"])
    return out


def dropping_hub(**kw):
    """A hub whose work directory the user can reach; data_dir not yet there."""
    hub = Hub(hub={"user": kw.pop("user", USER)}, **kw)
    os.chmod(hub.tmp, 0o755)
    return hub


def nested_data_dir(hub):
    """data_dir two levels below missing parents, which the hub creates 0755."""
    hub.data_dir = os.path.join(hub.tmp, "spool", "dd", "var")
    hub.conf_text = hub.conf_text.replace(os.path.join(hub.tmp, "var"), hub.data_dir)
    with open(hub.conf_path, "w") as f:
        f.write(hub.conf_text)


def cleaned(test):
    """Run test(hub) on a dropping hub and remove its files whatever happens."""
    def wrapper():
        hub = dropping_hub(**test.hub_kw) if hasattr(test, "hub_kw") else dropping_hub()
        try:
            test(hub)
        finally:
            hub.cleanup()
    wrapper.__name__ = test.__name__
    return wrapper


def start_fails(hub):
    """The exit code and stderr of a start that must fail."""
    p = subprocess.run([DUMPSTERD, "-c", hub.conf_path], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr


def test_binds_low_ports_then_runs_as_user():
    pw = pwd.getpwnam(USER)
    smtp_port = low_port()
    admin_port = low_port(skip=(smtp_port,))
    hub = dropping_hub(smtp={"listen": "127.0.0.1:%d" % smtp_port},
                       admin={"listen": "127.0.0.1:%d" % admin_port})
    hub.port = smtp_port
    nested_data_dir(hub)
    with hub:
        want_u, want_g = [str(pw.pw_uid)] * 4, [str(pw.pw_gid)] * 4
        for tid, (uids, gids, groups, eff, prm) in proc_ids(hub.proc.pid).items():
            assert uids == want_u, (tid, uids)
            assert gids == want_g, (tid, gids)
            assert groups in ([], [str(pw.pw_gid)]), (tid, groups)
            assert int(eff[0], 16) == 0 and int(prm[0], 16) == 0, (tid, eff, prm)
        assert len(proc_ids(hub.proc.pid)) >= 2  # the storage thread too
        wait_for(lambda: "running as user %s (uid %d" % (USER, pw.pw_uid) in hub.log(),
                 what="the drop logged")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
            s.sendmail("a@example.net", ["bob@example.test"], "Subject: drop\r\n\r\nhi\r\n")
        assert len(hub.queued()) == 1
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % admin_port, timeout=10) as r:
            assert r.status == 200
        st = os.stat(hub.data_dir)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (pw.pw_uid, pw.pw_gid, 0o700), st
        st = os.stat(os.path.dirname(hub.data_dir))
        assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o755), st
        names = sorted(os.listdir(hub.data_dir))
        assert "dumpsterd.db" in names and "dumpsterd.db-wal" in names, names
        for name in names:
            st = os.stat(os.path.join(hub.data_dir, name))
            assert st.st_uid == pw.pw_uid and st.st_mode & 0o7777 == 0o600, (name, oct(st.st_mode))
        rc = hub.stop()
        assert rc == 0, (rc, hub.log()[-3000:])  # as the user: clean stop (and leak check)


@cleaned
def test_data_dir_of_another_user(hub):
    os.mkdir(hub.data_dir, 0o700)  # root's
    group = grp.getgrgid(pwd.getpwnam(USER).pw_gid).gr_name
    rc, err = start_fails(hub)
    assert rc == 73, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "%s is owned by root, not by %s" % (hub.data_dir, USER) in lines[0], err
    assert lines[0].endswith("chown -R %s:%s %s" % (USER, group, hub.data_dir)), err


@cleaned
def test_store_file_of_another_user(hub):
    pw = pwd.getpwnam(USER)
    os.mkdir(hub.data_dir, 0o700)
    os.chown(hub.data_dir, pw.pw_uid, pw.pw_gid)
    open(os.path.join(hub.data_dir, "dumpsterd.db"), "w").close()  # root's
    rc, err = start_fails(hub)
    assert rc == 73, (rc, err)
    assert "%s/dumpsterd.db is owned by root, not by %s" % (hub.data_dir, USER) in err, err
    assert "chown -R" in err, err


def test_unknown_user():
    hub = dropping_hub(user="nosuchuser-dd")
    try:
        unknown_user(hub)
    finally:
        hub.cleanup()


def unknown_user(hub):
    rc, err = start_fails(hub)
    assert rc == 67, (rc, err)
    assert "user nosuchuser-dd does not exist" in err and "adduser --system" in err, err
    assert not os.path.exists(hub.data_dir), "nothing is created for an unknown user"


def test_user_root_stays_root():
    with Hub(hub={"user": "root"}) as hub:
        uids = {ids[0][1] for ids in proc_ids(hub.proc.pid).values()}
        assert uids == {"0"}, uids
        wait_for(lambda: "running as root: [hub] user = root" in hub.log(), what="the warning")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skip: needs root")
        sys.exit(77)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        print("skip: no user %s" % USER)
        sys.exit(77)
    sys.exit(1 if run([test_binds_low_ports_then_runs_as_user, test_data_dir_of_another_user,
                       test_store_file_of_another_user, test_unknown_user,
                       test_user_root_stays_root]) else 0)
