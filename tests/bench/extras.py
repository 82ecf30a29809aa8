"""extras - the other figures of issue 5 (sub-commands of run.py): COMMANDS.

latency   accept latency p50/p99 at half the maximum rate: an asyncio SMTP client
          with 20 persistent connections (PIPELINING), first closed-loop for the
          maximum rate, then open-loop at half of it; dumpsterd and Postfix.
rss       dumpsterd's RSS with 1,000 sessions each sending a 1 MiB message at
          once, and with 10,000 idle sessions (after EHLO).
startup   time from exec to the 220 greeting (and to /healthz when the admin API
          is served) with ITEMS dumpster items over GROUPS groups and QUEUED
          messages waiting in the queue.
admin     GET /v1/stats and GET /metrics latency with ITEMS dumpster items.
resubmit  POST /v1/resubmit of one group's items (ITEMS/GROUPS), its rate, and the
          accept and end-to-end rate of new mail (smtp-source 5k:20) meanwhile.
profile   perf record -g on dumpsterd during one throughput run per workload.
shadow    5k:20 over 3 hubs with shadow copies on (a 3-node nats-server JetStream
          cluster on loopback) and off, alternating: e2e and accept msg/s, the hubs'
          and the NATS servers' CPU per message, publish latency, shadow failures.

startup, admin and resubmit share one store, filled once per invocation: ITEMS
messages of 1 KiB delivered to smtp-sink (so kept in the dumpsters), then QUEUED
messages for destinations nobody listens on (only for startup, filled last).
A figure that needs the admin API is skipped when nothing answers on its port.

The code lives in: smtpclient.py (the asyncio SMTP client), extras_smtp.py
(latency, rss), extras_store.py (the store, the admin API; startup, admin,
resubmit), extras_profile.py (profile) and extras_shadow.py (shadow); `import
extras as E` gives every one of their names, as before the split.
"""
from smtpclient import BODY_LINE, pct, message, Conn, connect
from extras_smtp import (closed_loop, open_loop, cmd_latency, big_messages, idle_sessions,
                         cmd_rss)
from extras_store import (http_get, admin_up, Corpus, corpus, cmd_startup, timed_gets,
                          items_hub, cmd_admin, cmd_resubmit)
from extras_profile import cmd_profile
from extras_shadow import cmd_shadow

__all__ = [
    "BODY_LINE", "pct", "message", "Conn", "connect", "closed_loop", "open_loop",
    "cmd_latency", "big_messages", "idle_sessions", "cmd_rss", "http_get", "admin_up",
    "Corpus", "corpus", "cmd_startup", "timed_gets", "items_hub", "cmd_admin", "cmd_resubmit",
    "cmd_profile", "cmd_shadow",
]


COMMANDS = {"profile": cmd_profile, "latency": cmd_latency, "rss": cmd_rss, "startup": cmd_startup,
            "admin": cmd_admin, "resubmit": cmd_resubmit, "shadow": cmd_shadow}
