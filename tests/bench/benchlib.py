"""benchlib - the pieces of the dumpsterd / Postfix benchmark (see run.py).

Everything here listens on 127.0.0.1 only and is stopped by Procs.stop_all(),
which run.py calls on a normal end, on an error and on Ctrl-C / SIGTERM.
The TLS runs (run.py --tls) add Certs (a CA and a server certificate made
with the openssl CLI, as tests/integration/ddtls.py does), TlsSink (tlsload
sink, built from tests/bench/tlsload.c) and the TLS settings of both relays.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
PERF = shutil.which("perf")
PERF_EVENTS = ["syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync",
               "raw_syscalls:sys_enter"]


def log(msg):
    print(msg, flush=True)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(interval)


def greets(port, timeout=1.0):
    """True when 127.0.0.1:port answers with a 220 greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(5)
            ok = s.recv(512).startswith(b"220")
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return ok
    except OSError:
        return False


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- processes

class Procs:
    """Every process the benchmark started, so that all of them are stopped."""

    def __init__(self):
        self.items = []   # (name, stop callable)
        self.lock = threading.Lock()

    def add(self, name, stop):
        with self.lock:
            self.items.append((name, stop))
        return stop

    def remove(self, stop):
        with self.lock:
            self.items = [(n, s) for (n, s) in self.items if s is not stop]

    def stop_all(self):
        while True:
            with self.lock:
                if not self.items:
                    return
                name, stop = self.items.pop()
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log("warning: stopping %s: %s" % (name, e))


PROCS = Procs()


def kill_popen(p, sig=signal.SIGTERM, timeout=15):
    """Stop one process that we started (its own process group as a fallback)."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            p.kill()
        p.wait()


# ---------------------------------------------------------------- /proc

def read_stat(pid):
    """(ppid, utime+stime, cutime+cstime, rss bytes) of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    return (int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]),
            int(rest[21]) * PAGE)


def all_stats():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st is not None:
                out[int(d)] = st
    return out


def tree_pids(root, stats=None):
    stats = stats if stats is not None else all_stats()
    kids = {}
    for pid, st in stats.items():
        kids.setdefault(st[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in stats:
            out.append(p)
            todo.extend(kids.get(p, []))
    return out, stats


def tree_cpu(root):
    """CPU seconds (user+sys) of root's process tree, reaped children included."""
    pids, stats = tree_pids(root)
    return sum(stats[p][1] + stats[p][2] for p in pids) / CLK


def proc_field(path, key):
    """The value of a "Key: N kB" line of a /proc file, in bytes; 0 if gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss(pid):
    return proc_field("/proc/%d/smaps_rollup" % pid, "Pss:")


def vm_hwm(pid):
    return proc_field("/proc/%d/status" % pid, "VmHWM:")


def vm_rss(pid):
    return proc_field("/proc/%d/status" % pid, "VmRSS:")


class MemSampler(threading.Thread):
    """Samples the sum of RSS and of PSS of a process tree; keeps the peaks."""

    def __init__(self, root, interval=0.25):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = self.peak_pss = self.hwm = 0
        self.stopped = threading.Event()

    def sample(self):
        pids, stats = tree_pids(self.root)
        self.peak_rss = max(self.peak_rss, sum(stats[p][3] for p in pids))
        self.peak_pss = max(self.peak_pss, sum(pss(p) for p in pids))
        self.hwm = max(self.hwm, vm_hwm(self.root))

    def run(self):
        while not self.stopped.wait(self.interval):
            self.sample()

    def stop(self):
        self.stopped.set()
        self.join()
        self.sample()


def disk_of(path):
    """The /proc/diskstats name of the block device holding path."""
    st = os.stat(path)
    maj, mi = os.major(st.st_dev), os.minor(st.st_dev)
    names = {}
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            names[(int(p[0]), int(p[1]))] = p[2]
    if (maj, mi) in names:
        return names[(maj, mi)]
    return None


def diskstats(name):
    """(write I/Os, flushes) of a device since boot."""
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if p[2] == name:
                return int(p[7]), (int(p[18]) if len(p) > 18 else 0)
    return 0, 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------- perf

def perf_ok():
    if PERF is None:
        return False
    try:
        r = subprocess.run([PERF, "stat", "-x,", "-e", ",".join(PERF_EVENTS), "true"],
                           capture_output=True, timeout=20)
        return r.returncode == 0 and b"not supported" not in r.stderr \
            and b"<not" not in r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


def perf_prefix(outfile):
    return [PERF, "stat", "-x,", "-I", "1000", "-o", outfile, "-e", ",".join(PERF_EVENTS), "--"]


def perf_window(outfile, t_from, t_to):
    """Per event, the sum of perf's 1 s intervals that end in (t_from, t_to + 1]
    (seconds since perf started)."""
    sums = {}
    try:
        with open(outfile) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                p = line.strip().split(",")
                if len(p) < 4:
                    continue
                try:
                    t, c = float(p[0]), int(p[1])
                except ValueError:
                    continue
                if t_from < t <= t_to + 1.0:
                    sums[p[3]] = sums.get(p[3], 0) + c
    except OSError:
        return None
    return sums


# ---------------------------------------------------------------- sink

class Sink:
    """postfix's smtp-sink -c on 127.0.0.1:port; counts messages from its counter
    line ("sess=N quit=N mesg=N\\r" after every ".")."""

    MESG = re.compile(rb"mesg=(\d+)")
    name = "smtp-sink"

    def __init__(self, port=None, extra=()):
        self.port = port or free_port()
        self.extra = list(extra)
        self.count = 0
        self.target = None
        self.t_done = None
        self.cond = threading.Condition()
        self.proc = None

    def command(self):
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        return cmd + self.extra + ["-c", "127.0.0.1:%d" % self.port, "1000"]

    def took(self, m):
        """The last counter line of a read (called with self.cond held)."""
        self.count = int(m.group(1))

    def start(self):
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._stop = PROCS.add(self.name, self.stop)
        threading.Thread(target=self.reader, daemon=True).start()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited" % self.name)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 20, self.name)
        return self

    def reader(self):
        fd = self.proc.stdout.fileno()
        tail = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buf = tail + data
            m = None
            for m in self.MESG.finditer(buf):
                pass
            tail = buf[-256:]
            if m is not None:
                with self.cond:
                    self.took(m)
                    if self.target is not None and self.t_done is None \
                            and self.count >= self.target:
                        self.t_done = now
                    self.cond.notify_all()

    def expect(self, n):
        """Arm the end-of-run clock: t_done is when the count reaches count + n."""
        with self.cond:
            self.target = self.count + n
            self.t_done = None
            return self.target

    def wait_done(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.t_done is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))
            return self.t_done

    def dest(self):
        return "smtp:[127.0.0.1]:%d" % self.port

    def cpu(self):
        """CPU seconds the sink used so far."""
        return tree_cpu(self.proc.pid)

    def stop(self):
        PROCS.remove(self._stop)
        kill_popen(self.proc, signal.SIGKILL)
        if self.proc:
            self.proc.stdout.close()


class TlsSink(Sink):
    """tlsload sink -c (tests/bench/tlsload.c): smtp-sink's part with STARTTLS
    (without certs: no STARTTLS, a plain sink). Its counter line after every
    message: "sess=N quit=N mesg=N tls=N resumed=N plain=N" (connections,
    QUITs, messages, handshakes, resumed handshakes, messages in clear);
    counters() is the last one read."""

    MESG = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+) tls=(\d+) resumed=(\d+) "
                      rb"plain=(\d+)\n")
    FIELDS = ("sess", "quit", "mesg", "tls", "resumed", "plain")
    name = "tlsload sink"

    def __init__(self, tlsload, certs, port=None):
        super().__init__(port)
        self.tlsload, self.certs = tlsload, certs
        self.last = dict.fromkeys(self.FIELDS, 0)

    def command(self):
        cmd = [self.tlsload, "sink"]
        if self.certs is not None:
            cmd += ["-C", self.certs.sink, "-K", self.certs.sink_key]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        return cmd + ["-c", "127.0.0.1:%d" % self.port]

    def took(self, m):
        self.last = {k: int(v) for k, v in zip(self.FIELDS, m.groups())}
        self.count = self.last["mesg"]

    def counters(self):
        with self.cond:
            return dict(self.last)


CA_CNF = """[ca]
default_ca = bench
[bench]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


class Certs:
    """A CA and two server certificates (the relays', the sink's), each with
    SAN IP:127.0.0.1, made with the openssl CLI as tests/integration/ddtls.py
    makes the tests' ones. EC P-256 keys. Files readable by all (throwaway keys:
    Postfix's daemons and `tlsload sink -u nobody` read them)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "certs")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self._ca()
        self.relay, self.relay_key = self._cert("relay", "relay.bench.test")
        self.sink, self.sink_key = self._cert("sink", "sink.bench.test")
        for f in os.listdir(self.dir):
            os.chmod(self.path(f), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run([OPENSSL] + list(args), cwd=self.dir, check=True, capture_output=True)

    def _ca(self):
        d = self.path("ca.d")
        os.makedirs(d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(dir=d))
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
                  "-subj", "/CN=dumpsterd bench CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _cert(self, name, cn):
        key, csr, pem = name + ".key", name + ".csr", name + ".pem"
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=" + cn,
                  "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn,
                  "-addext", "extendedKeyUsage=serverAuth")
        self._run("ca", "-batch", "-notext", "-config", self.path("ca.d/ca.cnf"),
                  "-cert", "ca.pem", "-keyfile", "ca.key", "-in", csr, "-out", pem,
                  "-days", "30")
        return self.path(pem), self.path(key)


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


# ---------------------------------------------------------------- relays

class Relay:
    """A relay under test: start() -> pid of the process tree's root; stop()."""
    name = "?"
    pid = None
    port = None
    data_dir = None
    perf_out = None
    t_perf = None

    def cpu(self):
        return tree_cpu(self.pid)


class Dumpsterd(Relay):
    name = "dumpsterd"

    def __init__(self, binary, tmp, sink_dest, use_perf, conf_extra="", smtp_extra=None,
                 sgs=None, directory=None, data_dir=None, hub_extra=None, admin_token_hash=None,
                 sg_extra=None):
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
                name, dest, 16 << 30)
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
