#include "protocol/mysql/packet.h"

#include <algorithm>

#include "protocol/mysql/wire.h"

namespace sluice::mysql {

DecodeStatus DecodePacket(std::span<const uint8_t> in, PacketView* out, size_t* consumed,
                          size_t max_payload) {
  if (in.size() < kPacketHeaderSize) return DecodeStatus::kNeedMoreData;
  size_t len = in[0] | (in[1] << 8) | (in[2] << 16);
  if (len > max_payload) return DecodeStatus::kError;
  if (in.size() - kPacketHeaderSize < len) return DecodeStatus::kNeedMoreData;
  out->seq = in[3];
  out->payload = in.subspan(kPacketHeaderSize, len);
  *consumed = kPacketHeaderSize + len;
  return DecodeStatus::kPacket;
}

void AppendPacket(std::string* out, uint8_t* seq, std::span<const uint8_t> payload) {
  Writer w(out);
  size_t off = 0;
  // Bounded: one iteration per 16 MiB chunk, plus the final (possibly empty) chunk.
  while (true) {
    size_t n = std::min(payload.size() - off, kMaxPacketPayload);
    out->reserve(out->size() + kPacketHeaderSize + n);
    w.U24(static_cast<uint32_t>(n)).U8((*seq)++).Raw(payload.subspan(off, n));
    off += n;
    if (n < kMaxPacketPayload) break;
  }
}

void AppendPacket(std::string* out, uint8_t* seq, std::string_view payload) {
  AppendPacket(out, seq, AsBytes(payload));
}

LogicalPacketAssembler::Status LogicalPacketAssembler::Add(const PacketView& packet) {
  bool continued = packet.payload.size() == kMaxPacketPayload;
  if (!in_progress_) {
    buffer_.clear();
    overflowed_ = false;
    first_seq_ = packet.seq;
    if (!continued) {
      last_seq_ = packet.seq;
      if (packet.payload.size() > max_size_) return Status::kTooLarge;
      payload_ = packet.payload;
      return Status::kComplete;
    }
    in_progress_ = true;
  }
  last_seq_ = packet.seq;
  if (!overflowed_ && buffer_.size() + packet.payload.size() > max_size_) {
    overflowed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
  }
  if (!continued) in_progress_ = false;
  if (overflowed_) return Status::kTooLarge;
  buffer_.append(AsStringView(packet.payload));
  if (continued) return Status::kNeedMore;
  payload_ = AsBytes(buffer_);
  return Status::kComplete;
}

void LogicalPacketAssembler::Reset() {
  buffer_.clear();
  payload_ = {};
  in_progress_ = false;
  overflowed_ = false;
}

}  // namespace sluice::mysql
