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

  size_t header_bytes() const override { return mysql::kPacketHeaderSize; }
  bool ReadHeader(const uint8_t* header, Frame* f) override;
  // The tracker reads every packet: it finds the end (the last OK, ERR or EOF, after the
  // result sets, DEPRECATE_EOF or not) and the status flags.
  bool Reads(const Frame&) const override { return true; }
  Step Follow(Frame* f, std::span<const uint8_t> bytes) override;

  // The sequence id of the last packet that went (or goes) to the client whole: after a
  // malformed packet, the one before it; an ERR sluice writes in place of the rest follows it.
  uint8_t last_seq() const { return last_seq_; }

 private:
  mysql::ResponseTracker* tracker_;
  uint8_t last_seq_ = 0;
};

}  // namespace sluice::mysqlproxy
