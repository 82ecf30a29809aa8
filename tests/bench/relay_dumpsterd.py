"""relay_dumpsterd - dumpsterd as the relay under test (see run.py).

Dumpsterd writes a configuration (hub, smtp, admin, directory, storage groups;
BENCH_DD_DROP names [hub] keys to leave out for an older build), starts the
binary (under perf stat when asked), waits for its 220, reads GET /metrics
(metrics_sums) and counts the dumpster's items in its SQLite store.
"""
import os
import pwd
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

from benchcore import PROCS, Relay, free_port, greets, kill_popen, wait_for
from procstat import perf_prefix

def metrics_sums(text, names):
    """Per Prometheus metric name, the sum of its samples (every label set)."""
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        if name in out:
            try:
                out[name] += float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                pass
    return out


class Dumpsterd(Relay):
    name = "dumpsterd"

    def __init__(self, binary, tmp, sink_dest, use_perf, conf_extra="", smtp_extra=None,
                 sgs=None, directory=None, data_dir=None, hub_extra=None, admin_token_hash=None,
                 sg_extra=None, sg_max_size=16 << 30):
        self.binary = os.path.abspath(binary)
        self.tmp = tmp
        self.port = free_port()
        self.admin_port = free_port()
        self.use_perf = use_perf
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="dd-var-", dir=tmp)
        self.conf = os.path.join(tmp, "dumpsterd-%d.conf" % self.port)
        self.log_path = os.path.join(tmp, "dumpsterd-%d.log" % self.port)
        self.dir_path = os.path.join(tmp, "directory-%d.tsv" % self.port)
        sgs = sgs or {"SG1": sink_dest}
        with open(self.dir_path, "w") as f:
            f.write(directory or "@example.test\tSG1\n")
        smtp = {"listen": "127.0.0.1:%d" % self.port, "hostname": "hub1.example.test"}
        smtp.update(smtp_extra or {})
        # make bench runs as root: the hub stays root instead of dropping to [hub] user
        hub = {"name": "bench", "data_dir": self.data_dir,
               "user": "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name}
        hub.update(hub_extra or {})
        for k in filter(None, os.environ.get("BENCH_DD_DROP", "").split(",")):
            hub.pop(k.strip(), None)  # a build from before that key existed refuses it
        conf = "[hub]\n" + "".join("%s = %s\n" % kv for kv in hub.items())
        conf += "[smtp]\n" + "".join("%s = %s\n" % kv for kv in smtp.items())
        conf += "[admin]\nlisten = 127.0.0.1:%d\n" % self.admin_port
        if admin_token_hash:
            conf += "token_hash = %s\n" % admin_token_hash
        conf += "[directory]\nfile = %s\n" % self.dir_path
        conf += conf_extra
        for name, dest in sgs.items():
            # production settings: dumpster copies kept, room for every copy of the run
            conf += "[storage_group %s]\ndestination = %s\nmax_size = %d\n" % (
                name, dest, sg_max_size)
            conf += "".join("%s = %s\n" % kv for kv in (sg_extra or {}).items())
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self, wait=True):
        cmd = [self.binary, "-c", self.conf]
        if self.use_perf:
            self.perf_out = self.conf + ".perf"
            cmd = perf_prefix(self.perf_out) + cmd
        self.logf = open(self.log_path, "ab")
        self.t_perf = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        self._stop = PROCS.add("dumpsterd", self.stop)
        if self.use_perf:
            def child():
                try:
                    with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                        k = f.read().split()
                    return int(k[0]) if k else None
                except OSError:
                    return None
            self.pid = wait_for(child, 20, "dumpsterd under perf")
        else:
            self.pid = self.proc.pid
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout=120):
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("dumpsterd exited %s:\n%s" % (self.proc.returncode,
                                                               self.log()[-3000:]))
            return greets(self.port)
        wait_for(up, timeout, "dumpsterd to listen", interval=0.005)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        PROCS.remove(self._stop)
        if self.pid and self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                kill_popen(self.proc, signal.SIGKILL)
        self.logf.close()

    def metrics(self, names):
        """Sums of the named metrics from GET /metrics (admin API), or None."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port,
                                        timeout=30) as r:
                return metrics_sums(r.read().decode(errors="replace"), names)
        except OSError:
            return None

    def dumpster_items(self):
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "dumpsterd.db"),
                                 uri=True, timeout=30)
            with db:
                n = db.execute("SELECT count(*) FROM dumpster_item").fetchone()[0]
            db.close()
            return n
        except sqlite3.Error:
            return None
