"""relay_postfix - Postfix as the relay under test (see run.py).

Postfix is Debian's Postfix in a private config directory (a copy of
/etc/postfix changed with postconf), a loopback relay as BENCH.md says, TLS
settings for --tls; default_postfix_running() tells whether Debian's own
instance runs.
"""
import os
import shutil
import signal
import subprocess
import time

from benchcore import POSTCONF, POSTFIX, PROCS, Relay, free_port, greets, kill_popen, wait_for
from procstat import perf_prefix

class Postfix(Relay):
    """Debian's Postfix in a private config directory, a loopback relay as BENCH.md says."""
    name = "postfix"

    def __init__(self, tmp, sink_port, use_perf, maillog=True, tls=None):
        self.tmp = tmp
        self.port = free_port()
        self.use_perf = use_perf
        base = os.path.join(tmp, "postfix")
        self.etc = os.path.join(base, "etc")
        self.data_dir = os.path.join(base, "spool")
        pfdata = os.path.join(base, "data")
        os.makedirs(base)
        os.chmod(base, 0o755)
        shutil.copytree("/etc/postfix", self.etc, symlinks=True,
                        ignore=shutil.ignore_patterns("makedefs.out", "sasl", "*.db", "*.lmdb"))
        os.makedirs(self.data_dir)
        os.makedirs(pfdata)
        shutil.chown(pfdata, "postfix")
        settings = [
            "queue_directory=" + self.data_dir,
            "data_directory=" + pfdata,
            "myhostname=relay.bench.test",
            "alias_maps=", "alias_database=",
            "mydestination=",
            "local_transport=error:local delivery disabled",
            "inet_interfaces=127.0.0.1",
            "inet_protocols=ipv4",
            "mynetworks=127.0.0.0/8",
            "relay_domains=example.test",
            "transport_maps=inline:{ example.test=smtp:[127.0.0.1]:%d }" % sink_port,
            "default_transport=error:no outbound",
            "smtpd_relay_restrictions=permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level=disabled",
            "smtp_host_lookup=native",
            "smtpd_peername_lookup=no",
            "smtpd_client_connection_count_limit=0",
            "smtpd_client_connection_rate_limit=0",
            "smtpd_client_message_rate_limit=0",
            "smtpd_client_recipient_rate_limit=0",
            "default_process_limit=100",
        ]
        settings += self.tls_settings(tls) if tls else [
            "smtpd_tls_security_level=none",
            "smtp_tls_security_level=none",
            "smtpd_use_tls=no", "smtp_use_tls=no",
        ]
        if maillog:
            # no /dev/log here: Postfix logs through postlogd to a file, as dumpsterd
            # logs to its stderr file: both relays pay for their logs
            settings += ["maillog_file_prefixes=" + base,
                         "maillog_file=" + os.path.join(base, "maillog")]
        self.postconf(["-e"] + settings)
        self.postconf(["-F", "*/*/chroot = n"])
        self.postconf(["-MX", "smtp/inet"])
        self.postconf(["-M", "127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd"
                       % (self.port, self.port)])
        if tls and tls.get("reuse"):
            # Debian's master.cf has tlsproxy commented out; connection reuse needs it
            self.postconf(["-M", "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"])
        r = subprocess.run([POSTFIX, "-c", self.etc, "check"], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("postfix check failed: %s" % r.stderr.decode(errors="replace"))

    @staticmethod
    def tls_settings(tls):
        """may on both sides with the bench's certificates (see tests/bench/README.md):
        tls = {"cert", "key", "ca", "reuse"}."""
        return [
            "smtpd_tls_security_level=may",
            "smtpd_tls_cert_file=" + tls["cert"],
            "smtpd_tls_key_file=" + tls["key"],
            "smtp_tls_security_level=may",
            "smtp_tls_CAfile=" + tls["ca"],
            # the client resumes sessions through tlsmgr, as Debian's main.cf sets it up
            "smtp_tls_session_cache_database=btree:${data_directory}/smtp_scache",
            "smtpd_tls_session_cache_database=btree:${data_directory}/smtpd_scache",
            # yes: several deliveries per TLS connection (through tlsproxy), as a
            # dumpsterd pool does; no: Postfix's default, a connection per delivery
            "smtp_tls_connection_reuse=" + ("yes" if tls.get("reuse") else "no"),
            "smtp_connection_cache_on_demand=yes",
        ]

    def postconf(self, args):
        subprocess.run([POSTCONF, "-c", self.etc] + args, check=True,
                       stdout=subprocess.DEVNULL)

    def master_pid(self):
        try:
            with open(os.path.join(self.data_dir, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def start(self, wait=True):
        cmd = [POSTFIX, "-c", self.etc, "start-fg"]
        if self.use_perf:
            self.perf_out = os.path.join(self.tmp, "postfix-%d.perf" % time.monotonic_ns())
            cmd = perf_prefix(self.perf_out) + cmd
        self.t_perf = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self._stop = PROCS.add("postfix", self.stop)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("postfix start-fg exited %s" % self.proc.returncode)
            return self.master_pid() is not None and greets(self.port)
        wait_for(up, 60, "postfix to listen", interval=0.05)
        self.pid = self.master_pid()
        return self

    def stop(self):
        PROCS.remove(self._stop)
        if self.proc.poll() is None:
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pid = self.master_pid()
                if pid:
                    os.kill(pid, signal.SIGKILL)
                kill_popen(self.proc, signal.SIGKILL)

    def queued(self):
        n = 0
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(self.data_dir, q)):
                n += len(files)
        return n


def default_postfix_running():
    """True when Debian's own Postfix instance (config /etc/postfix) runs."""
    r = subprocess.run([POSTFIX, "status"], capture_output=True)
    return r.returncode == 0
