"""dovecot - a private, real Dovecot 2.3 (Debian's dovecot-core, dovecot-lmtpd,
dovecot-sieve) for the integration tests and `make demo`.

One Dovecot instance lives in one temp dir: its config (dovecot.conf), base_dir
(run/: the master's sockets and the LMTP unix socket), state_dir, log file
(dovecot.log), passwd-file users (users), homes with maildirs (home/USER/Maildir)
and the doveadm API key file (doveadm.key, the hub's future probe_key_file). It
listens on 127.0.0.1 only: LMTP on a TCP port and on run/lmtp, the doveadm HTTP
API on another port. `dovecot -F` runs in the foreground as our child, so it is
started and stopped by its pid (SIGTERM to the master stops every process it
forked); PR_SET_PDEATHSIG makes it go too when the test dies before it can stop it.

Network: callers run inside a private network namespace (`in_private_netns`:
the process re-executes itself under `unshare -n` and brings up lo), so nothing
can leave loopback and no name can be resolved, whatever Dovecot, the hub or
dumpsterctl try. The config also resolves nothing on its own: `hostname` is set
(no gethostname/FQDN lookup), every listener is an IP literal, no proxying,
`ssl = no`, no auth cache lookups of client hosts. Without root (no namespace
possible) the same config runs in Dovecot's single-user mode (every service as
the calling user) on loopback; see `in_private_netns`.

Mail helpers read and change the maildirs directly, the way a disk would:
`messages` lists every message of a user in every folder with its Message-ID,
`lose_newest` deletes the newest N (a lossy failover), `copy_mail_to` copies
maildirs (and, optionally, the sieve duplicate database) to another instance
(a replica), `duplicates` counts copies of a Message-ID past the first.

The doveadm HTTP API (how to ask whether a mailbox holds a Message-ID, batched)
is written down in tests/integration/DOVEADM_HTTP_API.md; `doveadm_http` and
`has_message_ids` speak it.
"""
import base64
import ctypes
import http.client
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from ddtest import free_port, wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
SIEVEC = shutil.which("sievec") or "/usr/bin/sievec"
SIEVE_PLUGIN = "/usr/lib/dovecot/modules/lib90_sieve_plugin.so"
LMTPD = "/usr/lib/dovecot/lmtp"
DEB_PACKAGES = ("dovecot-core", "dovecot-lmtpd", "dovecot-sieve")

# The Pigeonhole recipe of README ("Dovecot"): drop a message whose Message-ID
# this user already got (RFC 7352 duplicate, per-user database in the home).
DEDUP_SIEVE = 'require "duplicate";\nif duplicate {\n  discard;\n  stop;\n}\n'


def usable():
    """None when Dovecot can run here, else the reason it cannot (for exit 77)."""
    for path in (DOVECOT, DOVEADM, LMTPD):
        if not os.access(path, os.X_OK):
            return "%s missing (apt-get install %s)" % (path, " ".join(DEB_PACKAGES))
    return None


def version():
    """`dovecot --version`, e.g. "2.3.19.1 (9b53102964)"."""
    return subprocess.run([DOVECOT, "--version"], capture_output=True, text=True,
                          timeout=30).stdout.strip()


def in_private_netns(argv=None):
    """Re-execute this program in a new network namespace with only lo (up).

    Returns True inside the namespace, False when there is none to be had
    (not root, or unshare refused): the caller then runs on the host's loopback.
    The hub, Dovecot, dumpsterctl and the test must share one namespace, so the
    whole test process moves, not Dovecot alone.
    """
    if os.environ.get("DD_NETNS") == "1":
        return True
    if os.environ.get("DD_NETNS") == "0" or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return False
    argv = argv or sys.argv
    env = dict(os.environ, DD_NETNS="1")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe("unshare", ["unshare", "-n", "--", "sh", "-c",
                           'ip link set lo up && exec "$0" "$@"', sys.executable] + argv, env)
    return True  # not reached


def _die_with_parent():
    """preexec_fn: SIGTERM to the child when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def header_value(raw, name):
    """The first `name:` field of a message's header section, unfolded, or None."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    key = name.lower().encode() + b":"
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(key):
            value = line[len(key):]
            for cont in lines[i + 1:]:
                if not cont[:1] in (b" ", b"\t"):
                    break
                value += cont
            return value.strip().decode("utf-8", "replace")
    return None


class Message:
    """One maildir file: user, folder ("INBOX", "Archive", ...), path, Message-ID."""

    def __init__(self, user, folder, path):
        self.user = user
        self.folder = folder
        self.path = path
        st = os.stat(path)
        self.mtime_ns = st.st_mtime_ns
        with open(path, "rb") as f:
            self.raw = f.read()
        self.message_id = header_value(self.raw, "Message-ID")

    def sort_key(self):
        """Delivery order: the file's mtime (kept by hardlink moves), then its name."""
        return (self.mtime_ns, os.path.basename(self.path))

    def __repr__(self):
        return "<%s %s %s>" % (self.user, self.folder, self.message_id)


class Dovecot:
    """One private Dovecot instance; see the module docstring."""

    def __init__(self, users=(), name="mx1", hostname=None, sieve_dedup=False, workdir=None,
                 folders=("Archive",), extra_conf="", ssl=None):
        self.name = name
        self.tmp = workdir or tempfile.mkdtemp(prefix="dovecot-%s-" % name)
        os.chmod(self.tmp, 0o755)  # the mail user walks down to its home
        self.hostname = hostname or "%s.example.test" % name
        self.users = list(users)
        self.sieve_dedup = sieve_dedup
        self.folders = list(folders)
        self.extra_conf = extra_conf
        self.ssl = ssl  # (cert, key) PEM files: LMTP offers STARTTLS
        self.lmtp_port = free_port()
        self.http_port = free_port()
        self.run_dir = os.path.join(self.tmp, "run")
        self.lmtp_socket = os.path.join(self.run_dir, "lmtp")
        self.conf_path = os.path.join(self.tmp, "dovecot.conf")
        self.log_path = os.path.join(self.tmp, "dovecot.log")
        self.key_path = os.path.join(self.tmp, "doveadm.key")
        self.api_key = base64.b32encode(os.urandom(20)).decode().lower()
        self.password = base64.b32encode(os.urandom(20)).decode().lower()
        self.proc = None
        self.single_user = os.geteuid() != 0
        self._ids()
        self._write_key()  # now: a hub's probe_key_file may be read before Dovecot starts

    def _write_key(self):
        with open(self.key_path, "w") as f:  # no newline: `<file` keeps every byte
            f.write(self.api_key)
        os.chmod(self.key_path, 0o600)

    # -- setup --------------------------------------------------------------

    def _ids(self):
        """The uid/gid that owns the mail, and the users Dovecot's services run as."""
        if self.single_user:  # Dovecot as an ordinary user: everything is that user
            self.uid, self.gid = os.geteuid(), os.getegid()
            me = pwd.getpwuid(self.uid).pw_name
            self.internal_user = self.login_user = me
            self.internal_group = grp.getgrgid(self.gid).gr_name
        else:
            nobody = pwd.getpwnam("nobody")
            self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
            self.internal_user, self.login_user = "dovecot", "dovenull"
            self.internal_group = "dovecot"

    def home(self, user):
        return os.path.join(self.tmp, "home", user)

    def maildir(self, user):
        return os.path.join(self.home(user), "Maildir")

    def dest_tcp(self):
        return "lmtp:[127.0.0.1]:%d" % self.lmtp_port

    def dest_unix(self):
        return "lmtp:unix:%s" % self.lmtp_socket

    def probe_url(self):
        """The future `[storage_group SG] probe = ...` value (issue 9 item 1)."""
        return "doveadm:http://127.0.0.1:%d" % self.http_port

    def config(self):
        """The whole dovecot.conf: nothing from /etc/dovecot is included."""
        t = self.tmp
        sieve = ""
        plugins = ""
        if self.sieve_dedup:
            plugins = "protocol lmtp {\n  mail_plugins = $mail_plugins sieve\n}\n"
            sieve = ("plugin {\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n"
                     "  sieve_before = %s/sieve/dedup.sieve\n}\n" % t)
        folders = "".join("  mailbox %s {\n    auto = create\n  }\n" % f for f in self.folders)
        single = ""
        if self.single_user:  # no privilege changes: every service as this user
            single = "".join("service %s {\n  user = %s\n}\n" % (s, self.internal_user)
                             for s in ("doveadm", "auth", "auth-worker"))
        return """# private test instance %(name)s, written by tests/integration/dovecot.py
instance_name = dd-%(name)s-%(pid)d
base_dir = %(t)s/run
state_dir = %(t)s/state
log_path = %(t)s/dovecot.log
info_log_path = %(t)s/dovecot.log
debug_log_path = %(t)s/dovecot.log
hostname = %(hostname)s
postmaster_address = postmaster@example.test
protocols = lmtp
listen = 127.0.0.1
%(ssl)s
shutdown_clients = yes
default_internal_user = %(internal)s
default_login_user = %(login)s
default_internal_group = %(group)s
first_valid_uid = %(uid)d
last_valid_uid = %(uid)d
first_valid_gid = %(gid)d
mail_location = maildir:~/Maildir
mail_save_crlf = yes
mail_fsync = optimized
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN %(t)s/users
}
userdb {
  driver = passwd-file
  args = %(t)s/users
}
namespace inbox {
  inbox = yes
  separator = /
%(folders)s}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(lmtp)d
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service doveadm {
  inet_listener http {
    address = 127.0.0.1
    port = %(http)d
  }
}
doveadm_api_key = <%(t)s/doveadm.key
doveadm_password = %(password)s
%(plugins)s%(sieve)s%(single)s%(extra)s""" % dict(
            name=self.name, pid=os.getpid(), t=t, hostname=self.hostname,
            internal=self.internal_user, login=self.login_user, group=self.internal_group, uid=self.uid, gid=self.gid,
            folders=folders, lmtp=self.lmtp_port, http=self.http_port,
            password=self.password, plugins=plugins, sieve=sieve, single=single,
            extra=self.extra_conf, ssl=self._ssl_conf())

    def _ssl_conf(self):
        if not self.ssl:
            return "ssl = no"
        return "ssl = yes\nssl_cert = <%s\nssl_key = <%s\nssl_min_protocol = TLSv1.2" % self.ssl

    def _write_files(self):
        for d in ("run", "state", "home", "sieve"):
            os.makedirs(os.path.join(self.tmp, d), exist_ok=True)
        os.chown(os.path.join(self.tmp, "home"), self.uid, self.gid)
        self._write_key()
        with open(os.path.join(self.tmp, "users"), "w") as f:
            for u in self.users:
                f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (u, "pw", self.uid, self.gid, self.home(u)))
        for u in self.users:
            os.makedirs(self.home(u), exist_ok=True)
            os.chown(self.home(u), self.uid, self.gid)
        with open(self.conf_path, "w") as f:
            f.write(self.config())
        if self.sieve_dedup:
            script = os.path.join(self.tmp, "sieve", "dedup.sieve")
            with open(script, "w") as f:
                f.write(DEDUP_SIEVE)
            subprocess.run([SIEVEC, "-c", self.conf_path, script], check=True,
                           capture_output=True, timeout=30)

    # -- processes ----------------------------------------------------------

    def start(self):
        self._write_files()
        self.logf = open(os.path.join(self.tmp, "dovecot.stderr"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf_path],
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=_die_with_parent)
        wait_for(self.ready, timeout=20, what="dovecot %s to listen" % self.name)
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("dovecot exited with %s:\n%s" % (self.proc.returncode,
                                                                self.log()[-4000:]))
        try:
            with socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=2) as s:
                if not s.recv(512).startswith(b"220"):
                    return False
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.lmtp_socket)
                if not s.recv(512).startswith(b"220"):
                    return False
            socket.create_connection(("127.0.0.1", self.http_port), timeout=2).close()
            return True
        except OSError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM to the master by pid; it stops its children and exits."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("dovecot %s did not stop on SIGTERM" % self.name)
        if self.proc:
            self.logf.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def log(self):
        text = ""
        for name in ("dovecot.stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("---- dovecot %s log ----\n%s" % (self.name, self.log()[-6000:]))
        self.cleanup()

    def doveadm_cli(self, *args):
        """Run doveadm against this instance's config; stdout."""
        p = subprocess.run([DOVEADM, "-c", self.conf_path] + list(args), capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("doveadm %s: %d %s" % (" ".join(args), p.returncode, p.stderr))
        return p.stdout

    # -- maildirs -----------------------------------------------------------

    def folder_dirs(self, user):
        """(folder name, maildir path) of every folder of the user that exists on disk."""
        root = self.maildir(user)
        out = []
        if os.path.isdir(root):
            out.append(("INBOX", root))
            for name in sorted(os.listdir(root)):
                path = os.path.join(root, name)
                if name.startswith(".") and os.path.isdir(os.path.join(path, "cur")):
                    out.append((name[1:].replace(".", "/"), path))
        return out

    def messages(self, user):
        """Every message of the user in every folder (new/ and cur/), oldest first."""
        out = []
        for folder, path in self.folder_dirs(user):
            for sub in ("new", "cur"):
                d = os.path.join(path, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    try:
                        out.append(Message(user, folder, os.path.join(d, name)))
                    except FileNotFoundError:  # moved or expunged meanwhile
                        continue
        return sorted(out, key=Message.sort_key)

    def message_ids(self, user):
        """Message-ID -> number of copies the user holds."""
        counts = {}
        for m in self.messages(user):
            counts[m.message_id] = counts.get(m.message_id, 0) + 1
        return counts

    def count(self, users=None):
        return sum(len(self.messages(u)) for u in (users or self.users))

    def duplicates(self, users=None):
        """Copies past the first of each Message-ID, summed over the users."""
        return sum(n - 1 for u in (users or self.users) for n in self.message_ids(u).values())

    def lose_newest(self, user, n):
        """A lossy failover: delete the user's newest n messages; returns them."""
        gone = self.messages(user)[-n:] if n > 0 else []
        for m in gone:
            os.unlink(m.path)
        return gone

    def copy_mail_to(self, other, users=None, with_dupes_db=False):
        """Make `other` a replica of this instance's mail as it is now.

        Copies every user's Maildir (folders, new/ and cur/, Dovecot's index and
        uidlist files; not tmp/, which holds half-written files) and, with
        with_dupes_db, the Pigeonhole duplicate database (~/.dovecot.lda-dupes),
        as a snapshot of the whole home would. dsync replication copies only
        mailboxes: with_dupes_db=False is that case.
        """
        for u in users or self.users:
            src, dst = self.maildir(u), other.maildir(u)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            if os.path.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("tmp"))
            for folder, path in other.folder_dirs(u):
                os.makedirs(os.path.join(path, "tmp"), exist_ok=True)
            dupes = os.path.join(self.home(u), ".dovecot.lda-dupes")
            if with_dupes_db and os.path.exists(dupes):
                shutil.copy2(dupes, os.path.join(other.home(u), ".dovecot.lda-dupes"))
            for root, dirs, files in os.walk(other.home(u)):
                os.chown(root, other.uid, other.gid)
                for f in files:
                    os.chown(os.path.join(root, f), other.uid, other.gid)

    # -- doveadm HTTP API (tests/integration/DOVEADM_HTTP_API.md) ---------------

    def doveadm_http(self, commands, auth="api-key", timeout=30):
        """POST a batch of [command, parameters, tag] to /doveadm/v1.

        Returns (HTTP status, parsed JSON): a list of [response type, result,
        tag] in the order sent. auth: "api-key" (Authorization: X-Dovecot-API
        base64(key)), "basic" (Basic base64("doveadm:" password)), or a header.
        """
        if auth == "api-key":
            header = "X-Dovecot-API " + base64.b64encode(self.api_key.encode()).decode()
        elif auth == "basic":
            header = "Basic " + base64.b64encode(("doveadm:" + self.password).encode()).decode()
        else:
            header = auth
        body = json.dumps(commands).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request("POST", "/doveadm/v1", body=body,
                         headers={"Content-Type": "application/json", "Authorization": header})
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data.decode("utf-8", "replace")

    def has_message_ids(self, pairs, auth="api-key"):
        """Which (user, Message-ID) pairs the mailboxes hold, in one doveadm request.

        One `search` command per pair, over every folder (`mailbox *`), each
        tagged with its index. Returns {(user, mid): True | False | None}: None
        when doveadm answered an error for that command (unknown user: exit
        code 67), so a caller can tell "missing" from "cannot say".
        """
        cmds = [["search", {"user": u, "query": ["mailbox", "*", "header", "Message-ID", mid]},
                 "q%d" % i] for i, (u, mid) in enumerate(pairs)]
        status, answer = self.doveadm_http(cmds, auth=auth)
        if status != 200:
            raise AssertionError("doveadm HTTP %d: %r" % (status, answer))
        out = {}
        by_tag = {a[2]: a for a in answer}
        for i, pair in enumerate(pairs):
            a = by_tag.get("q%d" % i)
            if a is None or a[0] != "doveadmResponse":
                out[pair] = None
            else:
                out[pair] = len(a[1]) > 0
        return out


def lmtp_send(dest, sender, rcpts, data, timeout=30):
    """One LMTP transaction by hand (tests of the harness): the per-recipient replies."""
    if dest.startswith("lmtp:unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(dest[len("lmtp:unix:"):])
    else:
        hostport = dest[len("lmtp:["):]
        host, port = hostport.split("]:")
        s = socket.create_connection((host, int(port)), timeout=timeout)
    f = s.makefile("rb")

    def reply():
        lines = [f.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(f.readline())
        return int(lines[-1][:3]), b"".join(lines).decode()

    reply()
    s.sendall(b"LHLO test.example.test\r\n")
    reply()
    s.sendall(b"MAIL FROM:<%s>\r\n" % sender.encode())
    reply()
    ok = []
    for r in rcpts:
        s.sendall(b"RCPT TO:<%s>\r\n" % r.encode())
        code, _ = reply()
        if code == 250:
            ok.append(r)
    s.sendall(b"DATA\r\n")
    reply()
    body = data.replace(b"\r\n.", b"\r\n..")
    s.sendall(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    out = [reply() for _ in ok]
    s.sendall(b"QUIT\r\n")
    s.close()
    return out
