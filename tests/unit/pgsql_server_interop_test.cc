// protocol/pgsql against a real PostgreSQL 15: SCRAM/MD5 logins, simple and extended
// queries, cancel, and verifiers equal to pg_authid's. The test does the socket I/O.
//
// Each test starts a throwaway server (initdb + pg_ctl as the postgres OS user, data in a
// fresh /tmp dir, a free 127.0.0.1 port) and stops it by PID. It fails if it cannot start.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"

namespace sluice::pgsql {
namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";
constexpr char kScramUser[] = "alice";
constexpr char kScramPassword[] = "wonderland";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv to completion (at most `timeout`), output appended to `log`; returns exit code.
int RunCommand(const std::vector<std::string>& argv, const std::string& log,
               std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Gone or a zombie nobody reaps yet: either way no longer serving.
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || (paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

// A blocking client connection that reads whole messages with the codec.
class Conn {
 public:
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }

  bool Connect(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};  // every read and write is bounded
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = write(fd_, bytes.data() + off, bytes.size() - off);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }

  // The next message; type 0 on EOF, timeout or a framing error.
  struct Msg {
    char type = 0;
    std::string payload;
    std::span<const uint8_t> bytes() const { return AsBytes(payload); }
  };
  Msg Read() {
    // Bounded: each pass reads at least one byte or returns.
    while (true) {
      MessageView view;
      size_t consumed = 0;
      const DecodeStatus s = DecodeMessage(AsBytes(buf_), &view, &consumed);
      if (s == DecodeStatus::kError) return {};
      if (s == DecodeStatus::kMessage) {
        Msg m{view.type, std::string(AsStringView(view.payload))};
        buf_.erase(0, consumed);
        return m;
      }
      char chunk[16384];
      const ssize_t n = read(fd_, chunk, sizeof(chunk));
      if (n <= 0) return {};
      buf_.append(chunk, size_t(n));
    }
  }

  // Reads until ReadyForQuery; returns every message before it and sets *status.
  std::vector<Msg> ReadUntilReady(char* status) {
    std::vector<Msg> out;
    for (int i = 0; i < 10000; ++i) {
      Msg m = Read();
      if (m.type == 0) break;
      if (m.type == backend::kReadyForQuery) {
        *status = DecodeReadyForQuery(m.bytes())->status;
        return out;
      }
      out.push_back(std::move(m));
    }
    *status = 0;
    return out;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

class PgsqlServerInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    passwd* pw = getpwnam("postgres");
    ASSERT_NE(pw, nullptr) << "no postgres OS user";
    char tmpl[] = "/tmp/sluice-pgcodec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(chown(dir_.c_str(), pw->pw_uid, pw->pw_gid), 0);
    ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
    const std::string data = dir_ + "/data";
    log_ = dir_ + "/setup.log";
    ASSERT_EQ(
        RunCommand({"runuser", "-u", "postgres", "--", std::string(kPgBin) + "/initdb", "-D", data,
                    "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"},
                   log_),
        0)
        << ReadFile(log_);
    // The superuser logs in without a password to set things up; md5user with MD5;
    // everyone else with SCRAM. First matching line wins.
    std::ofstream(data + "/pg_hba.conf") << "local all all trust\n"
                                            "host all postgres 127.0.0.1/32 trust\n"
                                            "host all md5user 127.0.0.1/32 md5\n"
                                            "host all all 127.0.0.1/32 scram-sha-256\n";
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    const std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ +
                             " -c listen_addresses=127.0.0.1 -c fsync=off";
    ASSERT_EQ(RunCommand({"runuser", "-u", "postgres", "--", std::string(kPgBin) + "/pg_ctl", "-D",
                          data, "-l", dir_ + "/server.log", "-w", "-t", "60", "-o", opts, "start"},
                         log_),
              0)
        << ReadFile(log_) << ReadFile(dir_ + "/server.log");
    std::istringstream pidfile(ReadFile(data + "/postmaster.pid"));
    pidfile >> server_pid_;
    ASSERT_GT(server_pid_, 0) << "no postmaster.pid";
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGINT);  // fast shutdown
      for (int i = 0; i < 300 && !ProcessGone(server_pid_); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!ProcessGone(server_pid_)) kill(server_pid_, SIGKILL);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void SendStartup(Conn* c, const std::string& user) {
    StartupMessage msg;
    msg.params = {{"user", user}, {"database", "postgres"}, {"application_name", "pgcodec"}};
    std::string wire;
    AppendStartupMessage(&wire, msg);
    ASSERT_TRUE(c->Send(wire));
  }

  // After AuthenticationOk: ParameterStatus… BackendKeyData, ReadyForQuery 'I'.
  void ExpectSessionStart(Conn* c) {
    char status = 0;
    bool saw_key = false;
    std::string server_version;
    for (const auto& m : c->ReadUntilReady(&status)) {
      if (m.type == backend::kParameterStatus) {
        auto p = DecodeParameterStatus(m.bytes());
        ASSERT_TRUE(p.ok());
        if (p->name == "server_version") server_version = std::string(p->value);
      } else if (m.type == backend::kBackendKeyData) {
        auto k = DecodeBackendKeyData(m.bytes());
        ASSERT_TRUE(k.ok());
        EXPECT_GT(k->pid, 0);
        saw_key = true;
      } else {
        ADD_FAILURE() << "unexpected message " << m.type;
      }
    }
    EXPECT_EQ(status, kTxIdle);
    EXPECT_TRUE(saw_key);
    EXPECT_TRUE(server_version.starts_with("15")) << server_version;
  }

  void LoginTrusted(Conn* c) {
    ASSERT_TRUE(c->Connect(port_));
    SendStartup(c, "postgres");
    Conn::Msg m = c->Read();
    ASSERT_EQ(m.type, backend::kAuthenticationRequest);
    ASSERT_EQ(DecodeAuthentication(m.bytes())->code, kAuthOk);
    ExpectSessionStart(c);
  }

  // Runs SQL as the superuser; returns the first column of the first row, if any.
  std::string AdminQuery(const std::string& sql) {
    Conn c;
    LoginTrusted(&c);
    std::string q;
    AppendQuery(&q, sql);
    EXPECT_TRUE(c.Send(q));
    char status = 0;
    std::string value;
    for (const auto& m : c.ReadUntilReady(&status)) {
      if (m.type == backend::kErrorResponse) {
        ADD_FAILURE() << "error: " << DecodeErrorFields(m.bytes())->message();
      }
      if (m.type == backend::kDataRow && value.empty()) {
        auto row = DecodeDataRow(m.bytes());
        if (row.ok() && !row->values.empty() && row->values[0]) {
          value = std::string(AsStringView(*row->values[0]));
        }
      }
    }
    EXPECT_EQ(status, kTxIdle);
    return value;
  }

  void CreateScramUser() {
    AdminQuery(std::string("SET password_encryption = 'scram-sha-256'; CREATE ROLE ") + kScramUser +
               " LOGIN PASSWORD '" + kScramPassword + "'");
  }

  // Drives SCRAM with `client` up to the server's answer to our client-final; returns the
  // message after SASLFinal (AuthenticationOk) or the ErrorResponse.
  Conn::Msg ScramLogin(Conn* c, ScramClientSession* client, bool* server_verified) {
    *server_verified = false;
    EXPECT_TRUE(c->Connect(port_));
    SendStartup(c, kScramUser);
    Conn::Msg m = c->Read();
    EXPECT_EQ(m.type, backend::kAuthenticationRequest);
    auto auth = DecodeAuthentication(m.bytes());
    EXPECT_TRUE(auth.ok());
    EXPECT_EQ(auth->code, kAuthSasl);
    auto mechanisms = DecodeSaslMechanisms(auth->data);
    EXPECT_TRUE(mechanisms.ok());
    EXPECT_NE(std::find(mechanisms->begin(), mechanisms->end(), kScramSha256), mechanisms->end());

    std::string wire;
    AppendSaslInitialResponse(&wire, kScramSha256, *client->ClientFirst());
    EXPECT_TRUE(c->Send(wire));
    m = c->Read();
    EXPECT_EQ(m.type, backend::kAuthenticationRequest);
    auth = DecodeAuthentication(m.bytes());
    EXPECT_EQ(auth->code, kAuthSaslContinue);
    auto client_final = client->ClientFinal(AsStringView(auth->data));
    EXPECT_TRUE(client_final.ok()) << client_final.status().message();

    wire.clear();
    AppendSaslResponse(&wire, *client_final);
    EXPECT_TRUE(c->Send(wire));
    m = c->Read();
    if (m.type != backend::kAuthenticationRequest) return m;
    auth = DecodeAuthentication(m.bytes());
    EXPECT_EQ(auth->code, kAuthSaslFinal);
    const Status verified = client->VerifyServerFinal(AsStringView(auth->data));
    EXPECT_TRUE(verified.ok()) << verified.message();
    *server_verified = verified.ok();
    return c->Read();
  }

  std::string dir_;
  std::string log_;
  int port_ = 0;
  pid_t server_pid_ = 0;
};

TEST_F(PgsqlServerInteropTest, ScramLoginThenSimpleQueryErrorAndTransaction) {
  CreateScramUser();
  Conn c;
  ScramClientSession client = ScramClientSession::FromPassword(kScramPassword);
  bool verified = false;
  Conn::Msg m = ScramLogin(&c, &client, &verified);
  ASSERT_TRUE(verified);
  ASSERT_EQ(m.type, backend::kAuthenticationRequest);
  ASSERT_EQ(DecodeAuthentication(m.bytes())->code, kAuthOk);
  ExpectSessionStart(&c);

  std::string q;
  AppendQuery(&q, "SELECT 40 + 2 AS answer, NULL::text AS nothing");
  ASSERT_TRUE(c.Send(q));
  char status = 0;
  std::vector<Conn::Msg> reply = c.ReadUntilReady(&status);
  EXPECT_EQ(status, kTxIdle);
  ASSERT_EQ(reply.size(), 3u);
  ASSERT_EQ(reply[0].type, backend::kRowDescription);
  auto desc = DecodeRowDescription(reply[0].bytes());
  ASSERT_TRUE(desc.ok());
  ASSERT_EQ(desc->fields.size(), 2u);
  EXPECT_EQ(desc->fields[0].name, "answer");
  EXPECT_EQ(desc->fields[0].type_oid, 23u);  // int4
  EXPECT_EQ(desc->fields[1].name, "nothing");
  ASSERT_EQ(reply[1].type, backend::kDataRow);
  auto row = DecodeDataRow(reply[1].bytes());
  ASSERT_TRUE(row.ok());
  ASSERT_EQ(row->values.size(), 2u);
  EXPECT_EQ(AsStringView(*row->values[0]), "42");
  EXPECT_FALSE(row->values[1].has_value());
  ASSERT_EQ(reply[2].type, backend::kCommandComplete);
  auto tag = DecodeCommandComplete(reply[2].bytes());
  EXPECT_EQ(tag->tag, "SELECT 1");
  EXPECT_EQ(CommandTagRows(tag->tag), 1u);

  q.clear();
  AppendQuery(&q, "SELECT * FROM no_such_table");
  ASSERT_TRUE(c.Send(q));
  reply = c.ReadUntilReady(&status);
  EXPECT_EQ(status, kTxIdle);
  ASSERT_EQ(reply.size(), 1u);
  ASSERT_EQ(reply[0].type, backend::kErrorResponse);
  auto err = DecodeErrorFields(reply[0].bytes());
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->sqlstate(), "42P01");
  EXPECT_EQ(err->severity(), "ERROR");
  EXPECT_NE(err->message().find("no_such_table"), std::string_view::npos);

  q.clear();
  AppendQuery(&q, "BEGIN");
  ASSERT_TRUE(c.Send(q));
  reply = c.ReadUntilReady(&status);
  EXPECT_EQ(status, kTxInBlock);
  q.clear();
  AppendQuery(&q, "SELECT 1/0");
  ASSERT_TRUE(c.Send(q));
  reply = c.ReadUntilReady(&status);
  EXPECT_EQ(status, kTxFailed);

  q.clear();
  AppendTerminate(&q);
  EXPECT_TRUE(c.Send(q));
}

TEST_F(PgsqlServerInteropTest, ExtendedQueryWithRewrittenStatementName) {
  CreateScramUser();
  Conn c;
  ScramClientSession client = ScramClientSession::FromPassword(kScramPassword);
  bool verified = false;
  ASSERT_EQ(ScramLogin(&c, &client, &verified).type, backend::kAuthenticationRequest);
  ASSERT_TRUE(verified);
  ExpectSessionStart(&c);

  // The client's Parse/Bind name "app_stmt" becomes "sluice_1" on the way to the server.
  std::string client_wire;
  AppendParse(&client_wire, Parse{"app_stmt", "SELECT $1::int * 2", {23}});
  const std::string one = "21";
  Bind bind;
  bind.statement = "app_stmt";
  bind.params = {AsBytes(one)};
  AppendBind(&client_wire, bind);
  AppendDescribe(&client_wire, kTargetPortal, "");
  AppendExecute(&client_wire, "", 0);
  AppendClose(&client_wire, kTargetStatement, "app_stmt");
  AppendSync(&client_wire);

  std::string server_wire;
  std::span<const uint8_t> rest = AsBytes(client_wire);
  for (int i = 0; i < 100 && !rest.empty(); ++i) {
    MessageView m;
    size_t consumed = 0;
    ASSERT_EQ(DecodeMessage(rest, &m, &consumed), DecodeStatus::kMessage);
    Status s;
    if (m.type == frontend::kParse) {
      s = RewriteParseStatementName(m.payload, "sluice_1", &server_wire);
    } else if (m.type == frontend::kBind) {
      s = RewriteBindStatementName(m.payload, "sluice_1", &server_wire);
    } else if (m.type == frontend::kClose) {
      s = RewriteCloseName(m.payload, "sluice_1", &server_wire);
    } else {
      AppendMessage(&server_wire, m.type, m.payload);
    }
    ASSERT_TRUE(s.ok()) << s.message();
    rest = rest.subspan(consumed);
  }
  ASSERT_TRUE(c.Send(server_wire));
  char status = 0;
  std::string types;
  std::string value;
  for (const auto& m : c.ReadUntilReady(&status)) {
    types.push_back(m.type);
    if (m.type == backend::kDataRow) {
      value = std::string(AsStringView(*DecodeDataRow(m.bytes())->values[0]));
    }
    if (m.type == backend::kErrorResponse) {
      ADD_FAILURE() << DecodeErrorFields(m.bytes())->message();
    }
  }
  EXPECT_EQ(types, "12TDC3");  // ParseComplete BindComplete RowDesc DataRow Complete Close
  EXPECT_EQ(value, "42");
  EXPECT_EQ(status, kTxIdle);
  // The server knows the statement only under the rewritten name, and it is closed now.
  EXPECT_EQ(AdminQuery("SELECT count(*) FROM pg_prepared_statements"), "0");
}

TEST_F(PgsqlServerInteropTest, VerifierMatchesPgAuthid) {
  CreateScramUser();
  const std::string stored = AdminQuery(
      std::string("SELECT rolpassword FROM pg_authid WHERE rolname = '") + kScramUser + "'");
  auto parsed = ParseVerifier(stored);
  ASSERT_TRUE(parsed.ok()) << stored;
  EXPECT_EQ(parsed->iterations, 4096);
  EXPECT_EQ(parsed->salt.size(), kScramDefaultSaltLength);
  auto ours = MakeVerifier(kScramPassword, parsed->salt, parsed->iterations);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(FormatVerifier(*ours), stored);
}

TEST_F(PgsqlServerInteropTest, WrongPasswordGetsInvalidPassword) {
  CreateScramUser();
  Conn c;
  ScramClientSession client = ScramClientSession::FromPassword("not-the-password");
  bool verified = false;
  Conn::Msg m = ScramLogin(&c, &client, &verified);
  EXPECT_FALSE(verified);
  ASSERT_EQ(m.type, backend::kErrorResponse);
  auto err = DecodeErrorFields(m.bytes());
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->sqlstate(), sqlstate::kInvalidPassword);
  EXPECT_EQ(err->severity(), "FATAL");
}

TEST_F(PgsqlServerInteropTest, PassthroughLoginWithRecoveredClientKey) {
  CreateScramUser();
  auto verifier = ParseVerifier(AdminQuery(
      std::string("SELECT rolpassword FROM pg_authid WHERE rolname = '") + kScramUser + "'"));
  ASSERT_TRUE(verifier.ok());
  // An application authenticates to the proxy, which holds only the verifier…
  ScramServerSession proxy_side(*verifier);
  ScramClientSession app = ScramClientSession::FromPassword(kScramPassword);
  auto sf = proxy_side.ServerFirst(*app.ClientFirst());
  ASSERT_TRUE(sf.ok());
  auto fin = proxy_side.ServerFinal(*app.ClientFinal(*sf));
  ASSERT_TRUE(fin.ok()) << fin.status().message();
  ASSERT_TRUE(app.VerifyServerFinal(*fin).ok());
  ASSERT_TRUE(proxy_side.client_key().has_value());
  // … and logs into PostgreSQL with the recovered ClientKey, no plaintext.
  Conn c;
  ScramClientSession proxy =
      ScramClientSession::FromKeys(*proxy_side.client_key(), verifier->server_key);
  bool verified = false;
  Conn::Msg m = ScramLogin(&c, &proxy, &verified);
  EXPECT_TRUE(verified);
  ASSERT_EQ(m.type, backend::kAuthenticationRequest);
  EXPECT_EQ(DecodeAuthentication(m.bytes())->code, kAuthOk);
  ExpectSessionStart(&c);
}

TEST_F(PgsqlServerInteropTest, Md5Login) {
  AdminQuery("SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'pw5'");
  EXPECT_EQ(AdminQuery("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5user'"),
            Md5PasswordHash("md5user", "pw5"));
  Conn c;
  ASSERT_TRUE(c.Connect(port_));
  SendStartup(&c, "md5user");
  Conn::Msg m = c.Read();
  ASSERT_EQ(m.type, backend::kAuthenticationRequest);
  auto auth = DecodeAuthentication(m.bytes());
  ASSERT_EQ(auth->code, kAuthMd5Password);
  auto salt = DecodeMd5Salt(auth->data);
  ASSERT_TRUE(salt.ok());
  std::string wire;
  AppendPasswordMessage(&wire, Md5Password("md5user", "pw5", *salt));
  ASSERT_TRUE(c.Send(wire));
  m = c.Read();
  ASSERT_EQ(m.type, backend::kAuthenticationRequest);
  EXPECT_EQ(DecodeAuthentication(m.bytes())->code, kAuthOk);
  ExpectSessionStart(&c);
}

TEST_F(PgsqlServerInteropTest, CancelRequestStopsARunningQuery) {
  Conn c2;
  ASSERT_TRUE(c2.Connect(port_));
  SendStartup(&c2, "postgres");
  ASSERT_EQ(DecodeAuthentication(c2.Read().bytes())->code, kAuthOk);
  BackendKeyData key;
  char status = 0;
  for (const auto& m : c2.ReadUntilReady(&status)) {
    if (m.type == backend::kBackendKeyData) key = *DecodeBackendKeyData(m.bytes());
  }
  ASSERT_GT(key.pid, 0);
  std::string q;
  AppendQuery(&q, "SELECT pg_sleep(30)");
  ASSERT_TRUE(c2.Send(q));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  Conn cancel;
  ASSERT_TRUE(cancel.Connect(port_));
  std::string wire;
  AppendCancelRequest(&wire, CancelRequest{key.pid, key.secret});
  ASSERT_TRUE(cancel.Send(wire));

  std::vector<Conn::Msg> reply = c2.ReadUntilReady(&status);
  ASSERT_FALSE(reply.empty());
  ASSERT_EQ(reply.back().type, backend::kErrorResponse);
  EXPECT_EQ(DecodeErrorFields(reply.back().bytes())->sqlstate(), sqlstate::kQueryCanceled);
  EXPECT_EQ(status, kTxIdle);
}

}  // namespace
}  // namespace sluice::pgsql
