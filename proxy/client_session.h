// ClientSession: what a worker knows of any client connection, whatever its protocol.
// Each protocol's session (proxy/mysql, proxy/pgsql) implements it.
#pragma once

#include <event2/util.h>

#include <memory>
#include <string>

namespace sluice {

class Worker;

class ClientSession {
 public:
  virtual ~ClientSession() = default;
  // Drain: close now if idle, else as soon as the running statement or transaction ends.
  virtual void Drain() = 0;
  // Close at once (shutdown after the drain timeout).
  virtual void Abort() = 0;
  // The server ("host:port") was set OFFLINE_HARD or removed: let go of any connection to it
  // now; a transaction on it is lost and the client is told so.
  virtual void OnServerGone(const std::string& server) = 0;
  // A statement this session holds (writes paused during failover/switchover) may route
  // again: a new snapshot arrived, or (timed_out) its hold expired. Only sessions that
  // call Worker::Hold() are ever asked.
  virtual void RetryHeld(bool /*timed_out*/) {}
  // KILL (from its own client, another session or the admin port, through Worker::Post):
  // query_only cancels the running statement on its backend; else the session ends, and
  // with it its backend work.
  virtual void Kill(bool query_only) = 0;
};

// Creates the session for a freshly accepted client socket; the session owns fd and
// deletes itself when it closes (it is registered with the worker until then).
void StartMysqlSession(Worker* worker, size_t cluster_index, evutil_socket_t fd);
void StartPgsqlSession(Worker* worker, size_t cluster_index, evutil_socket_t fd);

}  // namespace sluice
