"""procstat - what the benchmark reads of the box: /proc and perf (see run.py).

CPU seconds of a process tree (utime+stime, reaped children included), RSS,
PSS and VmHWM (MemSampler keeps a tree's peaks), the write I/Os and flushes of
the disk holding a path (/proc/diskstats), the load average, and perf stat's
fsync/fdatasync/syscall counts over a window of a run.
"""
import os
import shutil
import subprocess
import threading

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PERF = shutil.which("perf")
PERF_EVENTS = ["syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync",
               "raw_syscalls:sys_enter"]


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
