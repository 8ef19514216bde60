// PgFraming: the PostgreSQL side of the shared result forwarder (proxy/result_forwarder.h):
// 5-byte message headers (type, length), the few types the session reads, ReadyForQuery
// at the end of each segment.
#pragma once

#include "proxy/result_forwarder.h"

namespace sluice::pgproxy {

class PgFraming final : public ResultFraming {
 public:
  size_t header_bytes() const override { return 5; }
  // False for a length word below 4 or above the bound, so a server cannot make sluice
  // buffer a huge message first.
  bool ReadHeader(const uint8_t* header, Frame* f) override;
  // ReadyForQuery, ParseComplete, CloseComplete, ErrorResponse and ParameterStatus; rows,
  // descriptions, CommandComplete and COPY data pass unread.
  bool Reads(const Frame& f) const override;
  Step Follow(Frame* f, std::span<const uint8_t> bytes) override;
};

}  // namespace sluice::pgproxy
