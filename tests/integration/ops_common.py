"""ops_common: helpers the operability tests share (package, SIGHUP, health endpoints).

NotifySocket is a systemd notification socket of our own: a test sets NOTIFY_SOCKET for the
sluice it starts and reads the sd_notify datagrams (READY=1, RELOADING=1, STOPPING=1) as
systemd would, so Type=notify is exercised without systemd.
"""
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request


def wait_until(what, fn, timeout=30.0, step=0.1):
    """Polls fn until it returns a true value; raises after timeout with the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class NotifySocket:
    """An AF_UNIX datagram socket at PATH; messages() returns every datagram so far."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.received = []

    def messages(self):
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return list(self.received)

    def wait_for(self, field, timeout=30.0, after=0):
        """Waits for a datagram (index >= after) with the line FIELD; returns its index."""
        def seen():
            msgs = self.messages()
            for i in range(after, len(msgs)):
                if field in msgs[i].split("\n"):
                    return i + 1
            return None
        return wait_until("sd_notify %s" % field, seen, timeout) - 1

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def http_get(port, path, timeout=5):
    """(status, body) of GET http://127.0.0.1:PORT/PATH; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def mariadb_cli(port, user, password, sql, database=None):
    """Runs SQL through the mariadb CLI (libmariadb); returns (exit status, stdout, stderr)."""
    cmd = ["mariadb", "-h127.0.0.1", "-P%d" % port, "-u" + user, "-p" + password, "--batch",
           "--skip-column-names", "--connect-timeout=5", "-e", sql]
    if database:
        cmd.append(database)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr
