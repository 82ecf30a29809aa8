"""ddpostfix - Debian's Postfix as a private instance on loopback, for the tests.

The configuration is a copy of /etc/postfix in a scratch directory, changed
with postconf: its own queue and data directories, no DNS at all
(smtp_dns_support_level = disabled, next hops as [IP]:port), no local
delivery, logs to a file through postlogd. Listeners are added as
master.cf services on 127.0.0.1 with their own -o overrides. Postfix needs
root to start; available() says whether it can run here. stop() asks
"postfix stop" and, if that does not end it, kills the master by its pid.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from ddtest import free_port, wait_for

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"


def available():
    return os.geteuid() == 0 and os.path.exists(POSTFIX) and os.path.isdir("/etc/postfix")


class Postfix:
    def __init__(self, settings, listeners):
        """settings: main.cf lines; listeners: {name: ["-o", "k=v", ...]} on free ports."""
        self.tmp = tempfile.mkdtemp(prefix="ddpostfix-")
        os.chmod(self.tmp, 0o755)
        self.etc = os.path.join(self.tmp, "etc")
        self.spool = os.path.join(self.tmp, "spool")
        data = os.path.join(self.tmp, "data")
        self.maillog = os.path.join(self.tmp, "maillog")
        shutil.copytree("/etc/postfix", self.etc, symlinks=True,
                        ignore=shutil.ignore_patterns("makedefs.out", "sasl", "*.db", "*.lmdb"))
        os.makedirs(self.spool)
        os.makedirs(data)
        shutil.chown(data, "postfix")
        base = [
            "queue_directory=" + self.spool, "data_directory=" + data,
            "myhostname=relay.postfix.test", "mydestination=", "alias_maps=",
            "alias_database=", "local_transport=error:local delivery disabled",
            "inet_interfaces=127.0.0.1", "inet_protocols=ipv4", "mynetworks=127.0.0.0/8",
            "smtp_dns_support_level=disabled", "smtp_host_lookup=native",
            "smtpd_peername_lookup=no", "default_transport=error:no outbound",
            "smtpd_relay_restrictions=permit_mynetworks, reject_unauth_destination",
            "smtp_tls_session_cache_database=", "smtpd_tls_session_cache_database=",
            "maillog_file_prefixes=" + self.tmp, "maillog_file=" + self.maillog,
            "smtpd_tls_received_header=yes", "smtp_tls_loglevel=1", "smtpd_tls_loglevel=1",
            "compatibility_level=3.6",
        ]
        self.postconf(["-e"] + base + list(settings))
        self.postconf(["-F", "*/*/chroot = n"])
        self.postconf(["-MX", "smtp/inet"])
        self.ports = {}
        for name, opts in listeners.items():
            port = free_port()
            self.ports[name] = port
            args = " ".join(opts)
            self.postconf(["-M", "127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd %s"
                           % (port, port, args)])
        r = subprocess.run([POSTFIX, "-c", self.etc, "check"], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("postfix check: " + r.stderr)
        self.proc = None

    def postconf(self, args):
        subprocess.run([POSTCONF, "-c", self.etc] + args, check=True, capture_output=True)

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        self.proc = subprocess.Popen([POSTFIX, "-c", self.etc, "start-fg"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("postfix exited %s:\n%s" % (self.proc.returncode,
                                                                 self.log()))
            for port in self.ports.values():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except OSError:
                    return False
            return self.master_pid() is not None
        wait_for(up, timeout=60, what="postfix to listen")
        return self

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pid = self.master_pid()
                if pid:
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
