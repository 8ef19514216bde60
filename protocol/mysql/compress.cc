#include "protocol/mysql/compress.h"

#include <fmt/format.h>
#include <zlib.h>

#include "protocol/mysql/wire.h"

namespace sluice::mysql {

bool PeekCompressedHeader(std::span<const uint8_t> b, CompressedHeader* h) {
  if (b.size() < kCompressedHeaderSize) return false;
  h->compressed_length = b[0] | (b[1] << 8) | (uint32_t{b[2]} << 16);
  h->seq = b[3];
  h->uncompressed_length = b[4] | (b[5] << 8) | (uint32_t{b[6]} << 16);
  return true;
}

Result<std::string> InflateFrame(const CompressedHeader& h, std::span<const uint8_t> body) {
  if (body.size() != h.compressed_length)
    return ProtocolError("compressed frame: body length differs from its header");
  if (h.uncompressed_length == 0) return std::string(AsStringView(body));
  std::string out(h.uncompressed_length, '\0');
  uLongf len = out.size();
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &len, body.data(), body.size());
  if (rc != Z_OK || len != out.size())
    return ProtocolError(
        fmt::format("compressed frame: zlib error {} ({} of {} bytes)", rc, len, out.size()));
  return out;
}

void AppendCompressedFrame(std::string* out, uint8_t seq, std::string_view data) {
  std::string deflated;
  if (data.size() >= kMinCompressLength) {
    uLongf len = compressBound(data.size());
    deflated.resize(len);
    if (compress(reinterpret_cast<Bytef*>(deflated.data()), &len,
                 reinterpret_cast<const Bytef*>(data.data()), data.size()) == Z_OK &&
        len < data.size())
      deflated.resize(len);
    else
      deflated.clear();
  }
  bool stored = deflated.empty();
  std::string_view body = stored ? data : std::string_view(deflated);
  Writer(out)
      .U24(static_cast<uint32_t>(body.size()))
      .U8(seq)
      .U24(stored ? 0 : static_cast<uint32_t>(data.size()));
  out->append(body);
}

}  // namespace sluice::mysql
