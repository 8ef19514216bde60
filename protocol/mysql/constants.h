// Numbers of the MySQL/MariaDB client/server protocol: capability and status flags, command
// bytes, and the error codes (with SQLSTATE and server message) that sluice itself sends.
#pragma once

#include <cstdint>

namespace sluice::mysql {

// Capability flags. Lower 32 bits: MariaDB include/mysql_com.h (CLIENT_*); upper 32 bits: the
// MariaDB extended capabilities that travel in the last 4 "reserved" bytes of the handshake and
// handshake response when CLIENT_MYSQL is not set (mysql_com.h: MARIADB_CLIENT_* are defined
// as (1ULL << (32 + n))), so one uint64_t carries both.
inline constexpr uint64_t CLIENT_MYSQL = 1ULL << 0;  // was CLIENT_LONG_PASSWORD
inline constexpr uint64_t CLIENT_LONG_PASSWORD = 1ULL << 0;
inline constexpr uint64_t CLIENT_FOUND_ROWS = 1ULL << 1;
inline constexpr uint64_t CLIENT_LONG_FLAG = 1ULL << 2;
inline constexpr uint64_t CLIENT_CONNECT_WITH_DB = 1ULL << 3;
inline constexpr uint64_t CLIENT_NO_SCHEMA = 1ULL << 4;
inline constexpr uint64_t CLIENT_COMPRESS = 1ULL << 5;
inline constexpr uint64_t CLIENT_ODBC = 1ULL << 6;
inline constexpr uint64_t CLIENT_LOCAL_FILES = 1ULL << 7;
inline constexpr uint64_t CLIENT_IGNORE_SPACE = 1ULL << 8;
inline constexpr uint64_t CLIENT_PROTOCOL_41 = 1ULL << 9;
inline constexpr uint64_t CLIENT_INTERACTIVE = 1ULL << 10;
inline constexpr uint64_t CLIENT_SSL = 1ULL << 11;
inline constexpr uint64_t CLIENT_IGNORE_SIGPIPE = 1ULL << 12;
inline constexpr uint64_t CLIENT_TRANSACTIONS = 1ULL << 13;
inline constexpr uint64_t CLIENT_RESERVED = 1ULL << 14;
inline constexpr uint64_t CLIENT_SECURE_CONNECTION = 1ULL << 15;
inline constexpr uint64_t CLIENT_MULTI_STATEMENTS = 1ULL << 16;
inline constexpr uint64_t CLIENT_MULTI_RESULTS = 1ULL << 17;
inline constexpr uint64_t CLIENT_PS_MULTI_RESULTS = 1ULL << 18;
inline constexpr uint64_t CLIENT_PLUGIN_AUTH = 1ULL << 19;
inline constexpr uint64_t CLIENT_CONNECT_ATTRS = 1ULL << 20;
inline constexpr uint64_t CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1ULL << 21;
inline constexpr uint64_t CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1ULL << 22;
inline constexpr uint64_t CLIENT_SESSION_TRACK = 1ULL << 23;
inline constexpr uint64_t CLIENT_DEPRECATE_EOF = 1ULL << 24;
// MySQL 8 include/mysql_com.h; sluice does not offer these two (they change the framing of
// result sets and COM_STMT_EXECUTE), the tracker still understands the former.
inline constexpr uint64_t CLIENT_OPTIONAL_RESULTSET_METADATA = 1ULL << 25;
inline constexpr uint64_t CLIENT_QUERY_ATTRIBUTES = 1ULL << 27;
inline constexpr uint64_t CLIENT_SSL_VERIFY_SERVER_CERT = 1ULL << 30;
inline constexpr uint64_t CLIENT_REMEMBER_OPTIONS = 1ULL << 31;

inline constexpr uint64_t MARIADB_CLIENT_PROGRESS = 1ULL << 32;
inline constexpr uint64_t MARIADB_CLIENT_COM_MULTI = 1ULL << 33;
inline constexpr uint64_t MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1ULL << 34;
inline constexpr uint64_t MARIADB_CLIENT_EXTENDED_METADATA = 1ULL << 35;
inline constexpr uint64_t MARIADB_CLIENT_CACHE_METADATA = 1ULL << 36;
inline constexpr uint64_t MARIADB_CLIENT_BULK_UNIT_RESULTS = 1ULL << 37;

// Server status flags, MariaDB include/mysql_com.h (enum SERVER_STATUS_*).
inline constexpr uint16_t SERVER_STATUS_IN_TRANS = 0x0001;
inline constexpr uint16_t SERVER_STATUS_AUTOCOMMIT = 0x0002;
inline constexpr uint16_t SERVER_MORE_RESULTS_EXISTS = 0x0008;
inline constexpr uint16_t SERVER_QUERY_NO_GOOD_INDEX_USED = 0x0010;
inline constexpr uint16_t SERVER_QUERY_NO_INDEX_USED = 0x0020;
inline constexpr uint16_t SERVER_STATUS_CURSOR_EXISTS = 0x0040;
inline constexpr uint16_t SERVER_STATUS_LAST_ROW_SENT = 0x0080;
inline constexpr uint16_t SERVER_STATUS_DB_DROPPED = 0x0100;
inline constexpr uint16_t SERVER_STATUS_NO_BACKSLASH_ESCAPES = 0x0200;
inline constexpr uint16_t SERVER_STATUS_METADATA_CHANGED = 0x0400;
inline constexpr uint16_t SERVER_QUERY_WAS_SLOW = 0x0800;
inline constexpr uint16_t SERVER_PS_OUT_PARAMS = 0x1000;
inline constexpr uint16_t SERVER_STATUS_IN_TRANS_READONLY = 0x2000;
inline constexpr uint16_t SERVER_SESSION_STATE_CHANGED = 0x4000;

// Command bytes, MariaDB include/mysql_com.h (enum enum_server_command).
inline constexpr uint8_t COM_SLEEP = 0x00;
inline constexpr uint8_t COM_QUIT = 0x01;
inline constexpr uint8_t COM_INIT_DB = 0x02;
inline constexpr uint8_t COM_QUERY = 0x03;
inline constexpr uint8_t COM_FIELD_LIST = 0x04;
inline constexpr uint8_t COM_CREATE_DB = 0x05;
inline constexpr uint8_t COM_DROP_DB = 0x06;
inline constexpr uint8_t COM_REFRESH = 0x07;
inline constexpr uint8_t COM_SHUTDOWN = 0x08;
inline constexpr uint8_t COM_STATISTICS = 0x09;
inline constexpr uint8_t COM_PROCESS_INFO = 0x0a;
inline constexpr uint8_t COM_CONNECT = 0x0b;
inline constexpr uint8_t COM_PROCESS_KILL = 0x0c;
inline constexpr uint8_t COM_DEBUG = 0x0d;
inline constexpr uint8_t COM_PING = 0x0e;
inline constexpr uint8_t COM_TIME = 0x0f;
inline constexpr uint8_t COM_DELAYED_INSERT = 0x10;
inline constexpr uint8_t COM_CHANGE_USER = 0x11;
inline constexpr uint8_t COM_BINLOG_DUMP = 0x12;
inline constexpr uint8_t COM_TABLE_DUMP = 0x13;
inline constexpr uint8_t COM_CONNECT_OUT = 0x14;
inline constexpr uint8_t COM_REGISTER_SLAVE = 0x15;
inline constexpr uint8_t COM_STMT_PREPARE = 0x16;
inline constexpr uint8_t COM_STMT_EXECUTE = 0x17;
inline constexpr uint8_t COM_STMT_SEND_LONG_DATA = 0x18;
inline constexpr uint8_t COM_STMT_CLOSE = 0x19;
inline constexpr uint8_t COM_STMT_RESET = 0x1a;
inline constexpr uint8_t COM_SET_OPTION = 0x1b;
inline constexpr uint8_t COM_STMT_FETCH = 0x1c;
inline constexpr uint8_t COM_DAEMON = 0x1d;
inline constexpr uint8_t COM_BINLOG_DUMP_GTID = 0x1e;
inline constexpr uint8_t COM_RESET_CONNECTION = 0x1f;
inline constexpr uint8_t COM_STMT_BULK_EXECUTE = 0xfa;  // MariaDB only

// How a proxy in front of shared backend connections must treat a client's command byte.
// kForward: any backend connection answers it for this client alone. kKill:
// COM_PROCESS_KILL names a connection id; forwarded, a pooled backend would end whichever
// server connection holds that id, another user's included, so the proxy maps it to its own
// client ids (sluice: proxy/mysql/session_kill.cc) and never forwards it. kRefuse:
// replication (binlog dump, register slave), commands that act with the backend login's
// privileges on the whole server (COM_SHUTDOWN, COM_REFRESH, COM_DEBUG), and the obsolete or
// server-internal ones a server answers with ER_UNKNOWN_COM_ERROR anyway.
enum class CommandPolicy { kForward, kKill, kRefuse };
constexpr CommandPolicy PolicyOf(uint8_t code) {
  switch (code) {
    case COM_QUIT:
    case COM_INIT_DB:
    case COM_QUERY:
    case COM_FIELD_LIST:
    case COM_STATISTICS:
    case COM_PROCESS_INFO:
    case COM_PING:
    case COM_CHANGE_USER:
    case COM_STMT_PREPARE:
    case COM_STMT_EXECUTE:
    case COM_STMT_SEND_LONG_DATA:
    case COM_STMT_CLOSE:
    case COM_STMT_RESET:
    case COM_SET_OPTION:
    case COM_STMT_FETCH:
    case COM_RESET_CONNECTION:
    case COM_STMT_BULK_EXECUTE:
      return CommandPolicy::kForward;
    case COM_PROCESS_KILL:
      return CommandPolicy::kKill;
    default:
      return CommandPolicy::kRefuse;
  }
}

// COM_SET_OPTION arguments, include/mysql_com.h (enum_mysql_set_option).
inline constexpr uint16_t MYSQL_OPTION_MULTI_STATEMENTS_ON = 0;
inline constexpr uint16_t MYSQL_OPTION_MULTI_STATEMENTS_OFF = 1;

// COM_STMT_EXECUTE flags, include/mysql_com.h (enum_cursor_type).
inline constexpr uint8_t CURSOR_TYPE_NO_CURSOR = 0;
inline constexpr uint8_t CURSOR_TYPE_READ_ONLY = 1;
inline constexpr uint8_t CURSOR_TYPE_FOR_UPDATE = 2;
inline constexpr uint8_t CURSOR_TYPE_SCROLLABLE = 4;

// First payload byte of the generic responses (MySQL internals "Generic Response Packets").
inline constexpr uint8_t kOkHeader = 0x00;
inline constexpr uint8_t kAuthMoreDataHeader = 0x01;
inline constexpr uint8_t kLocalInfileHeader = 0xfb;
inline constexpr uint8_t kEofHeader = 0xfe;  // also AuthSwitchRequest during authentication
inline constexpr uint8_t kErrHeader = 0xff;

// Default charset the proxy announces: utf8mb4_general_ci (MariaDB strings/ctype-utf8.c).
inline constexpr uint8_t kCharsetUtf8mb4GeneralCi = 45;

// An error sluice sends: code and SQLSTATE from MariaDB include/mysqld_error.h /
// sql/share/errmsg-utf8.txt (client errors: include/errmsg.h, libmariadb/errmsg.c). The message
// is the server's English template with each printf conversion turned into {} for fmt.
struct ErrorInfo {
  uint16_t code;
  const char* sql_state;
  const char* message;
};

inline constexpr ErrorInfo ER_CON_COUNT_ERROR{1040, "08004", "Too many connections"};
inline constexpr ErrorInfo ER_HANDSHAKE_ERROR{1043, "08S01", "Bad handshake"};
inline constexpr ErrorInfo ER_DBACCESS_DENIED_ERROR{
    1044, "42000", "Access denied for user '{}'@'{}' to database '{}'"};
inline constexpr ErrorInfo ER_ACCESS_DENIED_ERROR{
    1045, "28000", "Access denied for user '{}'@'{}' (using password: {})"};
inline constexpr ErrorInfo ER_NO_DB_ERROR{1046, "3D000", "No database selected"};
inline constexpr ErrorInfo ER_UNKNOWN_COM_ERROR{1047, "08S01", "Unknown command"};
inline constexpr ErrorInfo ER_BAD_DB_ERROR{1049, "42000", "Unknown database '{}'"};
inline constexpr ErrorInfo ER_SERVER_SHUTDOWN{1053, "08S01", "Server shutdown in progress"};
inline constexpr ErrorInfo ER_NO_SUCH_THREAD{1094, "HY000", "Unknown thread id: {}"};
inline constexpr ErrorInfo ER_KILL_DENIED_ERROR{1095, "HY000", "You are not owner of thread {}"};
inline constexpr ErrorInfo ER_UNKNOWN_ERROR{1105, "HY000", "Unknown error"};
inline constexpr ErrorInfo ER_NET_PACKET_TOO_LARGE{
    1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"};
inline constexpr ErrorInfo ER_USER_LIMIT_REACHED{
    1226, "42000", "User '{}' has exceeded the '{}' resource (current value: {})"};
inline constexpr ErrorInfo ER_NOT_SUPPORTED_YET{1235, "42000",
                                                "This version of MariaDB doesn't yet support '{}'"};
inline constexpr ErrorInfo ER_NOT_SUPPORTED_AUTH_MODE{
    1251, "08004",
    "Client does not support authentication protocol requested by server; consider upgrading "
    "MariaDB client"};
inline constexpr ErrorInfo ER_OPTION_PREVENTS_STATEMENT{
    1290, "HY000",
    "The MariaDB server is running with the {} option so it cannot execute this statement"};
inline constexpr ErrorInfo ER_QUERY_INTERRUPTED{1317, "70100", "Query execution was interrupted"};
inline constexpr ErrorInfo ER_READ_ONLY_MODE{1836, "HY000", "Running in read-only mode"};
inline constexpr ErrorInfo ER_CONNECTION_KILLED{1927, "70100", "Connection was killed"};
inline constexpr ErrorInfo ER_STATEMENT_TIMEOUT{
    1969, "70100", "Query execution was interrupted (max_statement_time exceeded)"};
// A client-side code (2000..2999, libmariadb errmsg.h): never in an ERR packet sluice
// sends, because libmariadb turns a server ERR carrying one into CR_MALFORMED_PACKET (2027).
inline constexpr ErrorInfo CR_SERVER_LOST{2013, "HY000", "Lost connection to server during query"};
// What sluice sends when the server running a client's statement is lost: a server code
// with SQLSTATE 08S01 (communication link failure), which drivers map to "connection lost,
// outcome unknown" (Connector/J: CommunicationsException; PyMySQL: OperationalError).
inline constexpr ErrorInfo ER_NET_READ_ERROR{1158, "08S01",
                                             "Got an error reading communication packets"};

}  // namespace sluice::mysql
