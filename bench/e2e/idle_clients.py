#!/usr/bin/python3
# Opens N client connections to a MySQL/MariaDB or PostgreSQL endpoint, completes each login
# (raw wire protocol, so the client side stays small and cheap), then holds them idle.
#
#   idle_clients.py mysql|postgresql HOST PORT USER PASSWORD DB N READY_FILE [HOLD_S]
#
# Writes "<opened> <failed>" to READY_FILE once every login is done (or failed), then sleeps
# until SIGTERM or HOLD_S seconds (default 600) pass. bench/e2e/run.sh samples the proxy's
# VmRSS meanwhile. Raw sockets rather than pymysql/psycopg2: 10,000 psycopg2 connections
# would each run a client-side PBKDF2 and hold libpq's buffers; here one salted password is
# computed per distinct salt and each connection is one socket.
import base64
import hashlib
import hmac
import os
import resource
import signal
import socket
import struct
import sys
import time

CONNECT_TIMEOUT_S = 30


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed during login")
        buf += chunk
    return buf


# ---------------------------------------------------------------- MySQL / MariaDB

# Capability flags, MariaDB include/mysql_com.h.
CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 512
CLIENT_TRANSACTIONS = 8192
CLIENT_SECURE_CONNECTION = 32768
CLIENT_PLUGIN_AUTH = 1 << 19


def my_read_packet(s):
    hdr = recv_exact(s, 4)
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    return hdr[3], recv_exact(s, n)


def my_write_packet(s, seq, payload):
    s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)


def native_password(password, nonce):
    if not password:
        return b""
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(nonce + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def mysql_login(s, user, password, db):
    seq, p = my_read_packet(s)
    if p[0] == 0xFF:
        raise ConnectionError("server error in greeting: %r" % p[9:])
    i = p.index(b"\0", 1) + 1  # server version
    i += 4  # connection id
    nonce = p[i:i + 8]
    i += 8 + 1 + 2 + 1 + 2 + 2  # filler, caps low, charset, status, caps high
    plen = p[i]
    i += 1 + 10
    nonce += p[i:i + max(13, plen - 8) - 1]
    caps = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
            CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH)
    auth = native_password(password, nonce)
    resp = (struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23 + user.encode() + b"\0" +
            bytes([len(auth)]) + auth + db.encode() + b"\0" + b"mysql_native_password\0")
    my_write_packet(s, seq + 1, resp)
    for _ in range(3):  # OK, or an auth switch then OK
        seq, p = my_read_packet(s)
        if p[0] == 0x00:
            return
        if p[0] == 0xFF:
            raise ConnectionError("login refused: %r" % p[3:])
        if p[0] == 0xFE:  # AuthSwitchRequest: plugin name NUL, then the new nonce
            j = p.index(b"\0", 1)
            plugin, nonce = p[1:j], p[j + 1:].rstrip(b"\0")
            if plugin != b"mysql_native_password":
                raise ConnectionError("unsupported auth plugin %r" % plugin)
            my_write_packet(s, seq + 1, native_password(password, nonce))
            continue
        raise ConnectionError("unexpected login packet 0x%02x" % p[0])
    raise ConnectionError("login did not finish")


# ---------------------------------------------------------------- PostgreSQL

SALTED = {}  # (salt, iterations) -> SaltedPassword: one PBKDF2 per distinct salt


def pg_read(s):
    t = recv_exact(s, 1)
    n = struct.unpack("!I", recv_exact(s, 4))[0]
    return t, recv_exact(s, n - 4)


def pg_send(s, t, body):
    s.sendall(t + struct.pack("!I", len(body) + 4) + body)


def pg_login(s, user, password, db):
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
    s.sendall(struct.pack("!I", len(body) + 4) + body)
    client_first_bare = server_first = nonce = None
    for _ in range(64):
        t, b = pg_read(s)
        if t == b"E":
            raise ConnectionError("login refused: %r" % b)
        if t == b"Z":
            return
        if t != b"R":
            continue  # ParameterStatus, BackendKeyData, NoticeResponse
        code = struct.unpack("!I", b[:4])[0]
        if code == 0:
            continue
        if code == 3:  # cleartext
            pg_send(s, b"p", password.encode() + b"\0")
        elif code == 5:  # MD5
            inner = hashlib.md5((password + user).encode()).hexdigest().encode()
            pg_send(s, b"p", b"md5" + hashlib.md5(inner + b[4:8]).hexdigest().encode() + b"\0")
        elif code == 10:  # SASL: SCRAM-SHA-256 (RFC 7677)
            nonce = base64.b64encode(os.urandom(18)).decode()
            client_first_bare = "n=,r=" + nonce
            msg = ("n,," + client_first_bare).encode()
            pg_send(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(msg)) + msg)
        elif code == 11:  # SASLContinue: server-first-message
            server_first = b[4:].decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
            key = (salt, iters)
            if key not in SALTED:
                SALTED[key] = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
            client_key = hmac.new(SALTED[key], b"Client Key", "sha256").digest()
            stored = hashlib.sha256(client_key).digest()
            without_proof = "c=biws,r=" + attrs["r"]
            auth_msg = ",".join([client_first_bare, server_first, without_proof]).encode()
            sig = hmac.new(stored, auth_msg, "sha256").digest()
            proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
            pg_send(s, b"p", (without_proof + ",p=" + proof).encode())
        elif code == 12:  # SASLFinal
            continue
        else:
            raise ConnectionError("unsupported authentication request %d" % code)
    raise ConnectionError("login did not finish")


def main():
    if len(sys.argv) < 9:
        sys.exit("usage: idle_clients.py mysql|postgresql HOST PORT USER PASSWORD DB N READY_FILE [HOLD_S]")
    proto, host, port, user, password, db, n, ready = sys.argv[1:9]
    hold_s = float(sys.argv[9]) if len(sys.argv) > 9 else 600.0
    n = int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    login = mysql_login if proto == "mysql" else pg_login
    held, failed, first_error = [], 0, ""
    for _ in range(n):
        s = socket.socket()
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect((host, int(port)))
            login(s, user, password, db)
            held.append(s)
        except (OSError, ConnectionError, ValueError, IndexError, KeyError) as e:
            failed += 1
            first_error = first_error or str(e)
            s.close()
            if failed > 20 and not held:
                break  # nothing works: do not grind through the rest
    with open(ready + ".tmp", "w") as f:
        f.write("%d %d %s\n" % (len(held), failed, first_error.replace("\n", " ")[:200]))
    os.rename(ready + ".tmp", ready)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + hold_s
    while time.monotonic() < deadline:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
