// MysqlFraming: the MySQL side of the shared result forwarder (proxy/result_forwarder.h):
// 4-byte packet headers, every packet read by the ResponseTracker, which finds the end.
#pragma once

#include "protocol/mysql/response.h"
#include "proxy/result_forwarder.h"

namespace sluice::mysqlproxy {

class MysqlFraming final : public ResultFraming {
 public:
  // Follows the response with the session's tracker (the session begins it per command).
  explicit MysqlFraming(mysql::ResponseTracker* tracker) : tracker_(tracker) {}

  // A new response (the session begins the tracker with it).
  void Begin() { seen_ = false; }

  size_t header_bytes() const override { return mysql::kPacketHeaderSize; }
  bool ReadHeader(const uint8_t* header, Frame* f) override;
  // The tracker reads every packet: it finds the end (the last OK, ERR or EOF, after the
  // result sets, DEPRECATE_EOF or not) and the status flags.
  bool Reads(const Frame&) const override { return true; }
  Step Follow(Frame* f, std::span<const uint8_t> bytes) override;
  // Column definitions and rows pass in runs, followed by the tracker from their first byte
  // (ResponseTracker::PassRun), unless the session reads every row (a mirrored command's
  // checksum): set_runs(false).
  bool Runs() const override { return runs_; }
  size_t PassRun(std::span<const uint8_t> bytes, size_t limit, uint64_t* frames,
                 uint64_t* rows) override;
  void set_runs(bool on) { runs_ = on; }

  // The sequence id of the last packet that went (or goes) to the client whole (before the
  // response's first: one below the first's); an ERR sluice writes in place of the rest
  // follows it.
  uint8_t last_seq() const { return last_seq_; }

 private:
  mysql::ResponseTracker* tracker_;
  uint8_t last_seq_ = 0;
  bool seen_ = false;  // a packet of this response went whole
  bool runs_ = true;
};

}  // namespace sluice::mysqlproxy
