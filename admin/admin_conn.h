// admin_conn: what the admin port's protocol handlers share: one accepted connection as its
// handler sees it (AdminServer accepts it, keeps the bounds and closes it afterwards), and
// blocking socket reads under a deadline and writes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "admin/admin_service.h"
#include "admin/login_throttle.h"
#include "routing/runtime.h"

namespace sluice {

struct AdminConnection {
  int fd = -1;
  uint32_t id = 0;
  std::string peer;               // the client's address: the throttle's key, for the log
  int64_t login_deadline_ms = 0;  // monotonic: accept + admin.login_timeout_ms
  const AdminSettings* settings = nullptr;
  AdminService* service = nullptr;
  LoginThrottle* throttle = nullptr;
  // After a good password: counts the connection as a logged-in operator; false when
  // AdminServer::kMaxConnections are (or the connection was evicted meanwhile).
  std::function<bool()> admit;
  const std::atomic<bool>* stopping = nullptr;
};

// Every byte of DATA; false when the peer is gone.
bool AdminWriteAll(int fd, const std::string& data);
// Exactly LEN bytes into BUF. DEADLINE_MS (monotonic; 0: none) bounds the whole read, so a
// client that sends one byte at a time cannot hold a login open past it.
bool AdminReadAll(int fd, char* buf, size_t len, int64_t deadline_ms);
// Before closing after a last error message: ends our side and reads (and drops) what the
// client still sends, at most kLingerBytes for kLingerMs, so that closing with unread input
// does not reset the connection and lose that message.
void AdminLinger(int fd);
inline constexpr size_t kLingerBytes = 1 << 16;
inline constexpr int kLingerMs = 500;

}  // namespace sluice
