// The session fuzz targets' kept corpora (tests/fuzz/corpus/{mysql,pgsql}_session) replayed
// through the same entry points in the unit build, so CI runs them under ASan/UBSan with g++.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "tests/fuzz/mysql_session_driver.h"
#include "tests/fuzz/pgsql_session_driver.h"

namespace sluice::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles(const std::string& name) {
  fs::path dir = fs::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus" / name;
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string Read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

template <typename Run>
void Replay(const std::string& corpus, size_t at_least, Run run) {
  log::SetLevel(log::Level::kError);
  auto files = CorpusFiles(corpus);
  ASSERT_GE(files.size(), at_least) << "the kept corpus tests/fuzz/corpus/" << corpus;
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.string());
    std::string bytes = Read(p);
    run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
}

// A script: flags, then ops with their chunks.
std::string Script(uint8_t flags, std::initializer_list<std::string> ops) {
  std::string s(1, static_cast<char>(flags));
  for (const std::string& op : ops) s += op;
  return s;
}
std::string OpChunk(Op op, const std::string& bytes, uint8_t high = 0) {
  std::string s(1, static_cast<char>(static_cast<uint8_t>(op) | (high << 3)));
  AppendLength(&s, bytes.size());
  return s + bytes;
}
std::string OpAnswer(uint8_t a) {
  return {static_cast<char>(Op::kAnswer), static_cast<char>(a)};
}

template <typename Driver>
std::unique_ptr<Driver> RunScript(const std::string& script) {
  log::SetLevel(log::Level::kError);
  auto d = std::make_unique<Driver>(static_cast<uint8_t>(script[0]));
  FuzzInput in(reinterpret_cast<const uint8_t*>(script.data()) + 1, script.size() - 1);
  d->Run(&in);
  return d;
}

bool Saw(const std::vector<std::string>& seen, const std::string& what) {
  return std::find(seen.begin(), seen.end(), what) != seen.end();
}

// The drivers reach the post-auth states: the statement after the login reaches a backend
// and its answer the client.
TEST(SessionFuzzDriver, MysqlDriverLoginReachesTheBackend) {
  for (uint8_t flags : {1, 1 | 4, 1 | 2, 1 | 128, 1 | 8 | 16 | 32 | 64}) {
    SCOPED_TRACE(flags);
    auto d = RunScript<MysqlSessionDriver>(
        Script(flags, {OpAnswer(3), OpChunk(Op::kClientCommand, "\x03SELECT 1")}));
    EXPECT_TRUE(Saw(d->seen(), "\x03SELECT 1"));
    auto pk = mysqlproxy::Packets(d->client_got());
    // The login's OK (after caching_sha2's fast-auth byte), then the result set.
    size_t ok = 0;
    while (ok < pk.size() && !mysql::IsOk(mysql::AsBytes(pk[ok].second))) ++ok;
    ASSERT_GE(pk.size(), ok + 4);
    EXPECT_EQ(pk[ok + 1].second, std::string(1, '\x01'));  // one column
  }
}

TEST(SessionFuzzDriver, MysqlRawLoginWithTheEmptyPasswordUser) {
  mysql::HandshakeResponse r;
  r.capabilities = mysqlproxy::kClientCaps;
  r.max_packet_size = 1 << 24;
  r.charset = 45;
  r.user = "fuzz";
  r.auth_plugin_name = mysql::kNativePasswordPlugin;
  auto d = RunScript<MysqlSessionDriver>(Script(
      0, {OpChunk(Op::kClientBytes, mysqlproxy::Packet(1, mysql::EncodeHandshakeResponse(r))),
          OpChunk(Op::kClientCommand, "\x03SELECT 2")}));
  EXPECT_TRUE(Saw(d->seen(), "\x03SELECT 2"));
}

TEST(SessionFuzzDriver, PgsqlDriverLoginReachesTheBackend) {
  for (uint8_t flags : {1, 1 | 2, 1 | 4}) {
    SCOPED_TRACE(flags);
    auto d = RunScript<PgSessionDriver>(
        Script(flags, {OpAnswer(3), OpChunk(Op::kClientCommand, std::string("SELECT 1\0", 9))}));
    EXPECT_TRUE(Saw(d->seen(), std::string("QSELECT 1\0", 10)));
    std::string got = d->client_got();
    auto msgs = pgproxy::TakeMessages(&got);
    bool row = false;
    for (const auto& m : msgs) row = row || m.type == 'D';
    // With an application_name the backend's setting is synced first, and that query takes
    // the scripted row answer.
    EXPECT_EQ(row, !(flags & 4));
    ASSERT_FALSE(msgs.empty());
    EXPECT_EQ(msgs.back().type, 'Z');
  }
}

TEST(SessionFuzzReplay, MysqlCorpus) {
  Replay("mysql_session", 10, RunMysqlSession);
}

TEST(SessionFuzzReplay, PgsqlCorpus) {
  Replay("pgsql_session", 10, RunPgsqlSession);
}

}  // namespace
}  // namespace sluice::fuzz
