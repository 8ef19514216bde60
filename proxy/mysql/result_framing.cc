// MysqlFraming: packet headers and the tracker's verdict (see result_framing.h).
#include "proxy/mysql/result_framing.h"

namespace sluice::mysqlproxy {

bool MysqlFraming::ReadHeader(const uint8_t* h, Frame* f) {
  f->header = mysql::kPacketHeaderSize;
  f->total = f->header + (h[0] | (h[1] << 8) | (size_t{h[2]} << 16));
  f->seq = h[3];
  return true;  // every 3-byte length is one the protocol allows
}

size_t MysqlFraming::PassRun(std::span<const uint8_t> bytes, size_t limit, uint64_t* frames,
                             uint64_t* rows) {
  mysql::ResponseTracker::Run run = tracker_->PassRun(bytes, limit);
  if (run.packets) {
    last_seq_ = run.last_seq;
    seen_ = true;
  }
  *frames = run.packets;
  *rows = run.rows;
  return run.bytes;
}

ResultFraming::Step MysqlFraming::Follow(Frame* f, std::span<const uint8_t> bytes) {
  mysql::PacketView pkt;
  pkt.seq = f->seq;
  pkt.payload = bytes.subspan(f->header);
  uint64_t rows = tracker_->rows();
  mysql::TrackStatus r = tracker_->Feed(pkt);
  f->row = tracker_->rows() > rows;
  f->kind = pkt.payload.empty() ? 0 : pkt.payload[0];
  if (r == mysql::TrackStatus::kError) {
    // The packets before this one are whole and valid: the client has them. (Not seq - 1:
    // a sequence gap is one of the reasons.)
    if (!seen_) last_seq_ = static_cast<uint8_t>(f->seq - 1);
    return Step::kBad;
  }
  last_seq_ = f->seq;
  seen_ = true;
  switch (r) {
    case mysql::TrackStatus::kDone:
      return Step::kEnd;
    case mysql::TrackStatus::kLocalInfileRequest:
      return Step::kHandOver;
    case mysql::TrackStatus::kMore:
    case mysql::TrackStatus::kError:
      break;
  }
  return Step::kMore;
}

}  // namespace sluice::mysqlproxy
