// PgFraming: message headers and the end of a segment (see result_framing.h).
#include "proxy/pgsql/result_framing.h"

#include <algorithm>
#include <iterator>

#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/message.h"

namespace sluice::pgproxy {

namespace be = pgsql::backend;

bool PgFraming::ReadHeader(const uint8_t* h, Frame* f) {
  uint32_t length = (uint32_t{h[1]} << 24) | (uint32_t{h[2]} << 16) | (uint32_t{h[3]} << 8) | h[4];
  if (length < 4 || length > pgsql::kMaxMessageLength) return false;
  f->kind = h[0];
  f->header = 5;
  f->total = size_t{length} + 1;
  f->row = h[0] == static_cast<uint8_t>(be::kDataRow);
  return true;
}

bool PgFraming::Reads(const Frame& f) const {
  static constexpr char kRead[] = {be::kReadyForQuery, be::kParseComplete, be::kCloseComplete,
                                   be::kErrorResponse, be::kParameterStatus};
  return std::find(std::begin(kRead), std::end(kRead), static_cast<char>(f.kind)) !=
         std::end(kRead);
}

ResultFraming::Step PgFraming::Follow(Frame* f, std::span<const uint8_t>) {
  return static_cast<char>(f->kind) == be::kReadyForQuery ? Step::kEnd : Step::kMore;
}

}  // namespace sluice::pgproxy
