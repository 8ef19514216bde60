#!/usr/bin/python3
# Writes the hand-made seeds of the session fuzz targets (tests/fuzz/session_fuzz_input.h
# format): the logins and statements the unit tests script, one file per conversation.
#   tests/fuzz/make_session_seeds.py tests/fuzz/corpus
import hashlib
import os
import struct
import sys

OP_CLIENT, OP_COMMAND, OP_ANSWER, OP_SERVER, OP_SERVER_CLOSE, OP_CLIENT_CLOSE = range(6)
OP_RUNTIME, OP_READING = 6, 7


def length(n):
    return bytes([n]) if n < 255 else b"\xff" + struct.pack("<H", n)


def chunk(b):
    return length(len(b)) + b


def client(b):
    return bytes([OP_CLIENT]) + chunk(b)


def answer(a):
    return bytes([OP_ANSWER, a])


# MySQL ---------------------------------------------------------------------------------
CAPS = (1 << 9) | (1 << 15) | (1 << 19) | (1 << 13) | 1 | (1 << 17) | (1 << 24)
COM_QUERY, COM_INIT_DB, COM_PING, COM_QUIT = 0x03, 0x02, 0x0e, 0x01
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_RESET = 0x16, 0x17, 0x19, 0x1a
COM_RESET_CONNECTION, COM_CHANGE_USER, COM_FIELD_LIST = 0x1f, 0x11, 0x04
COM_SET_OPTION, COM_STATISTICS, COM_PROCESS_KILL = 0x1b, 0x09, 0x0c


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def my_cmd(cmd, arg=b""):
    return bytes([OP_COMMAND]) + chunk(bytes([cmd]) + arg)


def my_query(sql, a=None):
    return (answer(a) if a is not None else b"") + my_cmd(COM_QUERY, sql.encode())


def handshake_response(user, caps=CAPS, token=b"", db=None, plugin=b"mysql_native_password"):
    if db is not None:
        caps |= 1 << 3
    p = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23 + user + b"\0"
    p += bytes([len(token)]) + token
    if db is not None:
        p += db + b"\0"
    p += plugin + b"\0"
    return p


def mysql_seeds():
    login = b"\x01"
    s = {
        "select1": login + my_query("SELECT 1", 3),
        "transaction": login + my_query("BEGIN", 1) + my_query("INSERT INTO t VALUES (1)", 1)
        + my_query("COMMIT", 0),
        "pipelined": login + client(packet(0, b"\x03INSERT INTO t VALUES (1)")
                                    + packet(0, b"\x03INSERT INTO t VALUES (2)")),
        "error_then_more": login + my_query("SELECT * FROM missing", 2) + my_query("SELECT 1"),
        "prepare_execute": login + answer(2) + my_cmd(COM_STMT_PREPARE, b"SELECT ?")
        + answer(3) + my_cmd(COM_STMT_EXECUTE, struct.pack("<IBI", 1, 0, 1) + b"\x00\x01\xfd\x00\x01a")
        + my_cmd(COM_STMT_RESET, struct.pack("<I", 1)) + my_cmd(COM_STMT_CLOSE, struct.pack("<I", 1)),
        "ping_initdb_quit": login + my_cmd(COM_PING) + my_cmd(COM_INIT_DB, b"db2")
        + my_cmd(COM_STATISTICS) + my_cmd(COM_QUIT),
        "lock_tables": login + my_query("LOCK TABLES t WRITE") + my_query("INSERT INTO t VALUES (1)")
        + my_query("UNLOCK TABLES"),
        "last_insert_id": login + my_query("INSERT INTO t VALUES (NULL)")
        + my_query("SELECT LAST_INSERT_ID()", 3),
        "set_session": login + my_query("SET NAMES utf8mb4") + my_query("SET autocommit=0", 1)
        + my_query("SELECT @@autocommit", 3),
        "reset_change_user": login + my_cmd(COM_RESET_CONNECTION)
        + my_cmd(COM_CHANGE_USER, b"app\0\0db\0"),
        "field_list_set_option": login + my_cmd(COM_FIELD_LIST, b"t\0") + my_cmd(COM_SET_OPTION, b"\0\0"),
        "kill": login + my_query("KILL QUERY 5") + my_cmd(COM_PROCESS_KILL, struct.pack("<I", 5)),
        "server_dies_in_read": login + answer(4) + my_query("SELECT sleep(1)")
        + bytes([OP_SERVER_CLOSE, 0]) + my_query("SELECT 1"),
        "server_dies_in_write": login + answer(4) + my_query("INSERT INTO t SELECT sleep(1)")
        + bytes([OP_SERVER_CLOSE, 0]),
        "server_dies_in_trx": login + my_query("BEGIN", 1) + answer(4)
        + my_query("UPDATE t SET a=1") + bytes([OP_SERVER_CLOSE, 0]),
        "slow_reader": login + bytes([OP_READING]) + my_query("SELECT repeat('a', 100000)", 3)
        + bytes([OP_READING]),
        "promotion": login + my_query("INSERT INTO t VALUES (1)") + bytes([OP_RUNTIME, 0])
        + my_query("INSERT INTO t VALUES (2)"),
        "replica_shunned": login + bytes([OP_RUNTIME, 1]) + my_query("SELECT 1", 3),
        "more_results": login + my_query("CALL p()", 5),
        "deadlock": login + my_query("BEGIN", 1) + my_query("UPDATE t SET a=2", 7),
        "client_quits_in_flight": login + answer(4) + my_query("SELECT 1")
        + bytes([OP_CLIENT_CLOSE]),
        "split_reads": login + client(b"\x09\x00\x00") + client(b"\x00\x03SELE")
        + client(b"CT 1"),
        "multi_statements": bytes([1 | 8]) + my_query("SELECT 1; SELECT 2", 5),
        "no_deprecate_eof": bytes([1 | 4]) + my_query("SELECT 1", 3),
        "with_db_track": bytes([1 | 16 | 32]) + my_query("USE other") + my_query("SELECT 1", 3),
        "caching_sha2": bytes([1 | 128]) + my_query("SELECT 1", 3),
        "probe_greeting": bytes([1 | 2]) + my_query("SELECT 1", 3),
        "raw_login": b"\x00" + client(packet(1, handshake_response(b"fuzz")))
        + client(packet(0, b"\x03SELECT 1")),
        "raw_login_db": b"\x00" + client(packet(1, handshake_response(b"fuzz", db=b"db")))
        + client(packet(0, b"\x03SELECT 1")),
        "raw_wrong_password": b"\x00" + client(packet(1, handshake_response(b"app", token=b"x" * 20))),
        "raw_unknown_user": b"\x00" + client(packet(1, handshake_response(b"nobody"))),
        "raw_unknown_plugin": b"\x00" + client(packet(1, handshake_response(b"fuzz", plugin=b"dialog"))),
        "raw_ssl_request": b"\x00" + client(packet(1, struct.pack("<IIB", CAPS | (1 << 11), 1 << 24, 45)
                                                   + b"\0" * 23)),
        "raw_compress": b"\x00" + client(packet(1, handshake_response(b"fuzz", caps=CAPS | (1 << 5))))
        + client(struct.pack("<I", 13)[:3] + b"\x00\x00\x00\x00" + packet(0, b"\x03SELECT 1")),
        "raw_oversized": b"\x00" + client(b"\xff\xff\xff\x01" + b"a" * 200),
        "raw_short": b"\x00" + client(packet(1, b"\x00\x02")),
        "raw_command_before_login": b"\x00" + client(packet(0, b"\x03SELECT 1")),
    }
    return s


# PostgreSQL ----------------------------------------------------------------------------
PG_TYPES = "QPBDESCHXFdcfp"


def pg_cmd(t, body):
    i = PG_TYPES.find(t)
    if i < 0:
        return bytes([OP_COMMAND | (31 << 3), ord(t)]) + chunk(body)
    return bytes([OP_COMMAND | (i << 3)]) + chunk(body)


def pg_query(sql, a=None):
    return (answer(a) if a is not None else b"") + pg_cmd("Q", sql.encode() + b"\0")


def parse(name, sql, oids=()):
    return pg_cmd("P", name + b"\0" + sql + b"\0" + struct.pack("!H", len(oids))
                  + b"".join(struct.pack("!I", o) for o in oids))


def bind(portal, stmt, values=()):
    b = portal + b"\0" + stmt + b"\0" + struct.pack("!H", 0) + struct.pack("!H", len(values))
    for v in values:
        b += struct.pack("!i", len(v)) + v
    return pg_cmd("B", b + struct.pack("!H", 0))


def describe(kind, name):
    return pg_cmd("D", kind + name + b"\0")


def execute(portal, rows=0):
    return pg_cmd("E", portal + b"\0" + struct.pack("!i", rows))


SYNC = pg_cmd("S", b"")


def startup(params, version=196608):
    body = struct.pack("!I", version) + b"".join(k + b"\0" + v + b"\0" for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def pgsql_seeds():
    login = b"\x01"
    s = {
        "select1": login + pg_query("SELECT 1", 3),
        "transaction": login + pg_query("BEGIN", 1) + pg_query("INSERT INTO t VALUES (1)")
        + pg_query("COMMIT", 5),
        "error_in_trx": login + pg_query("BEGIN", 1) + pg_query("SELECT * FROM missing", 2)
        + pg_query("ROLLBACK", 5),
        "extended": login + parse(b"", b"SELECT $1", (23,)) + bind(b"", b"", (b"1",))
        + answer(1) + describe(b"P", b"") + answer(1) + execute(b"") + SYNC,
        "named_statement": login + parse(b"s1", b"SELECT 1") + describe(b"S", b"s1") + SYNC
        + bind(b"p1", b"s1") + execute(b"p1", 1) + pg_cmd("C", b"Ss1\0") + SYNC,
        "parse_error": login + answer(2) + parse(b"", b"SELEC") + bind(b"", b"") + execute(b"")
        + SYNC + pg_query("SELECT 1"),
        "portal_suspended": login + parse(b"", b"SELECT g FROM generate_series(1,3) g")
        + bind(b"", b"") + answer(3) + execute(b"", 1) + pg_cmd("H", b"") + execute(b"", 0) + SYNC,
        "function_call": login + pg_cmd("F", struct.pack("!IHHH", 1598, 0, 0, 0)),
        "copy_in": login + pg_query("COPY t FROM STDIN") + pg_cmd("d", b"1\n") + pg_cmd("c", b""),
        "copy_fail": login + pg_cmd("f", b"client gave up\0"),
        "terminate": login + pg_query("SELECT 1") + pg_cmd("X", b""),
        "unknown_type": login + pg_cmd("z", b"") + pg_query("SELECT 1"),
        "password_after_login": login + pg_cmd("p", b"secret\0"),
        "empty_query_notice": login + pg_query("", 6),
        "server_fatal": login + pg_query("SELECT 1", 7) + pg_query("SELECT 2"),
        "server_dies_in_read": login + answer(4) + pg_query("SELECT pg_sleep(1)")
        + bytes([OP_SERVER_CLOSE, 0]) + pg_query("SELECT 1"),
        "server_dies_in_trx": login + pg_query("BEGIN", 1) + answer(4) + pg_query("UPDATE t SET a=1")
        + bytes([OP_SERVER_CLOSE, 0]),
        "settings": login + pg_query("SET work_mem = '8MB'") + pg_query("SHOW work_mem", 3)
        + pg_query("RESET ALL") + pg_query("DISCARD ALL"),
        "listen": login + pg_query("LISTEN ch") + pg_query("NOTIFY ch"),
        "prepare_sql": login + pg_query("PREPARE s AS SELECT 1") + pg_query("EXECUTE s", 3)
        + pg_query("DEALLOCATE s"),
        "slow_reader": login + bytes([OP_READING]) + pg_query("SELECT repeat('a', 100000)", 3)
        + bytes([OP_READING]),
        "promotion": login + pg_query("INSERT INTO t VALUES (1)") + bytes([OP_RUNTIME, 0])
        + pg_query("INSERT INTO t VALUES (2)"),
        "client_quits_in_flight": login + answer(4) + pg_query("SELECT 1") + bytes([OP_CLIENT_CLOSE]),
        "split_reads": login + client(b"Q\x00\x00") + client(b"\x00\x0dSELECT 1\x00"),
        "md5_login": bytes([1 | 2]) + pg_query("SELECT 1", 3),
        "app_name": bytes([1 | 4]) + pg_query("SHOW application_name", 3),
        "raw_startup": b"\x00" + client(startup([(b"user", b"app"), (b"database", b"db")])),
        "raw_startup_unknown_user": b"\x00" + client(startup([(b"user", b"nobody")])),
        "raw_ssl_then_startup": b"\x00" + client(struct.pack("!II", 8, 80877103))
        + client(startup([(b"user", b"app")])),
        "raw_gss": b"\x00" + client(struct.pack("!II", 8, 80877104)),
        "raw_cancel": b"\x00" + client(struct.pack("!IIii", 16, 80877102, 1, 2)),
        "raw_bad_version": b"\x00" + client(startup([(b"user", b"app")], version=0x00020000)),
        "raw_options": b"\x00" + client(startup([(b"user", b"app"), (b"options", b"-c work_mem=8MB"),
                                                 (b"_pq_.x", b"1")], version=196610)),
        "raw_sasl_garbage": b"\x00" + client(startup([(b"user", b"app")]))
        + client(b"p" + struct.pack("!I", 30) + b"SCRAM-SHA-256\0" + struct.pack("!i", 8) + b"n,,n=,r=x"),
        "raw_md5_wrong": b"\x00" + client(startup([(b"user", b"md5user")]))
        + client(b"p" + struct.pack("!I", 40) + b"md5" + b"0" * 32 + b"\0"),
        "raw_huge_length": b"\x00" + client(struct.pack("!I", 0x7fffffff) + b"\0\3\0\0"),
    }
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for name, seeds in (("mysql_session", mysql_seeds()), ("pgsql_session", pgsql_seeds())):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        for label, data in seeds.items():
            # Named by content, as libFuzzer names its corpus files.
            path = os.path.join(d, "seed-" + label + "-" + hashlib.sha1(data).hexdigest()[:12])
            with open(path, "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
