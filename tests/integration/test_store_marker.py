"""A store that existed and is now empty or missing stops the start (issue 11 item 7).

SQLite takes a missing or 0-byte database for a new, empty one: a hub that
acknowledged mail would start over without a word. The real dumpsterd must
refuse (exit 65, a line naming the file and -I) when dumpsterd.db is 0 bytes,
or missing while dumpsterd.db.created says the data_dir held a store, leave the
files as they are, and begin a new store only with -I. A new data_dir starts as
always and writes the marker.
"""
import os
import smtplib
import subprocess
import sys

from ddtest import DUMPSTERD, Hub, run, wait_for

MSG = b"From: a@example.net\r\nSubject: kept\r\n\r\nhello\r\n"


def send(hub, rcpt="user@example.test"):
    with smtplib.SMTP("127.0.0.1", hub.port, timeout=10) as s:
        s.sendmail("a@example.net", [rcpt], MSG)


def refused(hub, args=()):
    """Start the hub; it must exit 65 before it listens. Its stderr."""
    p = subprocess.run([DUMPSTERD, "-c", hub.conf_path] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 65, "exit %d: %s" % (p.returncode, p.stderr)
    return p.stderr


def files(hub):
    return sorted(os.listdir(hub.data_dir))


def test_new_data_dir_gets_a_marker():
    with Hub() as hub:
        marker = os.path.join(hub.data_dir, "dumpsterd.db.created")
        assert os.path.exists(marker), files(hub)
        with open(marker) as f:
            assert f.read().startswith("dumpsterd store created 20"), marker
        assert os.stat(marker).st_mode & 0o077 == 0, oct(os.stat(marker).st_mode)
        send(hub)
        assert len(hub.queued()) == 1


def test_truncated_database_refused_then_init():
    hub = Hub()
    try:
        hub.start()
        send(hub)
        wait_for(lambda: len(hub.queued()) == 1, what="the message committed")
        assert hub.stop() == 0
        db = os.path.join(hub.data_dir, "dumpsterd.db")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        open(db, "wb").close()  # what a bad restore or a full disk can leave
        err = refused(hub)
        assert "dumpsterd.db is empty (0 bytes)" in err and "-I" in err, err
        assert os.path.getsize(db) == 0, "the refused start wrote to the database"
        assert files(hub) == ["dumpsterd.db", "dumpsterd.db.created"], files(hub)

        os.unlink(db)
        err = refused(hub)
        assert "dumpsterd.db is missing" in err and "dumpsterd.db.created" in err, err
        assert not os.path.exists(db), "the refused start created a database"

        hub.start(args=["-I"])  # the operator asks for a new store
        assert hub.queued() == {}
        send(hub)
        wait_for(lambda: len(hub.queued()) == 1, what="a message in the new store")
        assert hub.stop() == 0
        hub.start()  # and from now on it starts as always
        assert len(hub.queued()) == 1
    finally:
        hub.cleanup()


def test_empty_database_without_marker_refused():
    """A 0-byte database is never a store, marker or not (a store older than the marker)."""
    hub = Hub()
    try:
        os.makedirs(hub.data_dir, mode=0o700, exist_ok=True)
        open(os.path.join(hub.data_dir, "dumpsterd.db"), "wb").close()
        err = refused(hub)
        assert "is empty (0 bytes)" in err, err
        assert not os.path.exists(os.path.join(hub.data_dir, "dumpsterd.db.created"))
    finally:
        hub.cleanup()


if __name__ == "__main__":
    sys.exit(1 if run([test_new_data_dir_gets_a_marker, test_truncated_database_refused_then_init,
                       test_empty_database_without_marker_refused]) else 0)
