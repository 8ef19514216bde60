#include "protocol/mysql/resultset.h"

#include "protocol/mysql/constants.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {

std::string EncodeColumnDefinition41(const ColumnDefinition& col) {
  std::string out;
  Writer w(&out);
  w.LenEncString("def").LenEncString(col.schema).LenEncString(col.table).LenEncString(col.table);
  w.LenEncString(col.name).LenEncString(col.name);
  w.LenEnc(0x0c);  // length of the fixed-length fields that follow
  w.U16(col.charset).U32(col.length).U8(col.type).U16(col.flags).U8(col.decimals).Zeros(2);
  return out;
}

std::string EncodeTextRow(const TextRow& row) {
  std::string out;
  Writer w(&out);
  for (const auto& v : row) {
    if (v) {
      w.LenEncString(*v);
    } else {
      w.LenEncNull();
    }
  }
  return out;
}

void AppendTextResultSet(std::string* out, uint8_t* seq, const std::vector<ColumnDefinition>& cols,
                         const std::vector<TextRow>& rows, uint64_t caps, uint16_t status_flags) {
  std::string count;
  Writer(&count).LenEnc(cols.size());
  AppendPacket(out, seq, count);
  for (const auto& c : cols) AppendPacket(out, seq, EncodeColumnDefinition41(c));
  bool deprecate_eof = (caps & CLIENT_DEPRECATE_EOF) != 0;
  if (!deprecate_eof) AppendPacket(out, seq, EncodeEof(EofPacket{0, status_flags}));
  for (const auto& r : rows) AppendPacket(out, seq, EncodeTextRow(r));
  if (deprecate_eof) {
    OkPacket ok;
    ok.status_flags = status_flags;
    ok.eof_header = true;
    AppendPacket(out, seq, EncodeOk(ok, caps));
  } else {
    AppendPacket(out, seq, EncodeEof(EofPacket{0, status_flags}));
  }
}

}  // namespace sluice::mysql
