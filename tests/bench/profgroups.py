"""profgroups - a perf profile of dumpsterd summed by function group (run.py profile).

Groups (the first that matches a sample's dso and symbol):
  kernel      [kernel.kallsyms]: syscalls, the network stack, the file system
  SQLite      libsqlite3
  copies      memcpy/memmove/memset/memcmp and friends in libc
  allocation  malloc/free/realloc/calloc and their internals in libc
  formatting  printf/strftime family in libc (log lines, replies)
  libc other  the rest of libc (locks, string functions, syscall wrappers)
  libevent    libevent and libevent_pthreads
  TLS         libssl, libcrypto, libevent_openssl
  parsers     dumpsterd's pure parsers (relay/parse: *_parse, *_feed, conf, addresses)
  dumpsterd   the rest of dumpsterd
  other       anything else (vdso, libsodium, ...)
"""
import re
import subprocess

GROUPS = ["kernel", "SQLite", "copies", "allocation", "formatting", "libc other", "libevent",
          "TLS", "parsers", "dumpsterd", "other"]

COPY = re.compile(r"mem(cpy|move|set|cmp|chr|rchr)|__mem|str(cpy|ncpy)")
ALLOC = re.compile(r"malloc|free|realloc|calloc|_int_|unlink_chunk|tcache|arena|sysmalloc")
FORMAT = re.compile(r"printf|_IO_|strftime|__printf|itoa|vfprintf|snprintf|tz")
PARSER = re.compile(r"^(smtpd?_data_|smtpd?_cmd_|smtp_path|smtpd_addr|mta_reply_|smtp_reply_|"
                    r"mail_hdr|conf_|api_route|http_head|dir_|timefmt|doveadm_|addr_|dsn_)")


def group(dso, sym):
    """The group of one sample's dso and symbol."""
    if dso.startswith("[kernel"):
        return "kernel"
    if "libsqlite3" in dso:
        return "SQLite"
    if "libssl" in dso or "libcrypto" in dso or "libevent_openssl" in dso:
        return "TLS"
    if "libevent" in dso:
        return "libevent"
    if dso.startswith("libc"):
        if COPY.search(sym):
            return "copies"
        if ALLOC.search(sym):
            return "allocation"
        if FORMAT.search(sym):
            return "formatting"
        return "libc other"
    if dso == "dumpsterd":
        return "parsers" if PARSER.search(sym) else "dumpsterd"
    return "other"


def grouped(perf, data):
    """{group: percent of samples} of one perf.data, and the sample count."""
    out = subprocess.run([perf, "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                          "--sort", "dso,symbol", "-n"], capture_output=True, text=True).stdout
    n = dict.fromkeys(GROUPS, 0)
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[[.k]\]\s+(\S+)", line)
        if m:
            n[group(m.group(2), m.group(3))] += int(m.group(1))
    total = sum(n.values())
    return {g: 100.0 * v / max(1, total) for g, v in n.items()}, total


def table(rows):
    """Markdown: one column per profile (title, {group: percent}, samples, µs/msg)."""
    head = "| group | " + " | ".join(t for t, _, _, _ in rows) + " |"
    out = [head, "|---|" + "---|" * len(rows)]
    for g in GROUPS:
        cells = []
        for _, pct, _, us in rows:
            cells.append("%.1f %% (%.0f µs)" % (pct[g], pct[g] * us / 100) if us else
                         "%.1f %%" % pct[g])
        out.append("| %s | %s |" % (g, " | ".join(cells)))
    out.append("| samples | " + " | ".join(str(n) for _, _, n, _ in rows) + " |")
    return "\n".join(out)
