#include "protocol/mysql/response.h"

#include "protocol/mysql/constants.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {

bool CommandExpectsResponse(uint8_t command) {
  return command != COM_QUIT && command != COM_STMT_CLOSE && command != COM_STMT_SEND_LONG_DATA;
}

void ResponseTracker::Begin(uint8_t command, uint64_t caps) {
  *this = ResponseTracker();
  command_ = command;
  caps_ = caps;
  switch (command) {
    case COM_QUERY:
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
    case COM_PROCESS_INFO:
      state_ = State::kResultHead;
      break;
    case COM_STMT_FETCH:
      state_ = State::kRows;
      break;
    case COM_FIELD_LIST:
      state_ = State::kFieldList;
      break;
    case COM_STMT_PREPARE:
      state_ = State::kPrepareHead;
      break;
    case COM_STATISTICS:
      state_ = State::kStatistics;
      break;
    case COM_CHANGE_USER:
      state_ = State::kChangeUser;
      break;
    default:
      state_ = CommandExpectsResponse(command) ? State::kSingle : State::kDone;
  }
}

TrackStatus ResponseTracker::Feed(const PacketView& packet) {
  if (state_ == State::kDone) return Malformed("packet after the end of the response");
  if (have_seq_ && packet.seq != next_seq_) return Malformed("sequence id gap");
  have_seq_ = true;
  next_seq_ = static_cast<uint8_t>(packet.seq + 1);
  bool was_continued = continued_;
  continued_ = packet.payload.size() == kMaxPacketPayload;
  // The tail of a split packet belongs to what its head started (always a row in practice).
  if (was_continued) return TrackStatus::kMore;
  std::span<const uint8_t> p = packet.payload;
  // MariaDB progress report (MARIADB_CLIENT_PROGRESS): 0xFF 0xFFFF ..., not an error.
  if ((caps_ & MARIADB_CLIENT_PROGRESS) && p.size() >= 3 && p[0] == kErrHeader && p[1] == 0xff &&
      p[2] == 0xff) {
    return TrackStatus::kMore;
  }
  TrackStatus st = Dispatch(p);
  if (st == TrackStatus::kLocalInfileRequest) have_seq_ = false;  // client packets come next
  return st;
}

ResponseTracker::Run ResponseTracker::PassRun(std::span<const uint8_t> wire, size_t limit) {
  Run run;
  // The first packet of a response, or of the server's after LOCAL INFILE, and the tail of a
  // split packet go through Feed.
  if (!have_seq_ || continued_) return run;
  const uint8_t* at = wire.data();
  size_t left = wire.size();
  while (run.bytes < limit && (state_ == State::kRows || state_ == State::kColumnDefs)) {
    if (left < kPacketHeaderSize) break;
    size_t len = at[0] | (at[1] << 8) | (size_t{at[2]} << 16);
    if (len == 0 || len == kMaxPacketPayload || left - kPacketHeaderSize < len) break;
    uint8_t seq = at[3];
    uint8_t first = at[kPacketHeaderSize];
    // ERR (and MariaDB's progress report) starts with 0xFF; a row never does.
    if (seq != next_seq_ || first == kErrHeader) break;
    if (state_ == State::kRows) {
      if (IsResultSetEnd({at + kPacketHeaderSize, len}, caps_)) break;
      ++rows_;
      ++run.rows;
    } else if (--left_ == 0) {
      AfterColumns();
    }
    next_seq_ = static_cast<uint8_t>(seq + 1);
    run.last_seq = seq;
    ++run.packets;
    run.bytes += kPacketHeaderSize + len;
    at += kPacketHeaderSize + len;
    left -= kPacketHeaderSize + len;
  }
  return run;
}

TrackStatus ResponseTracker::Dispatch(std::span<const uint8_t> p) {
  if (p.empty()) return Malformed("empty packet");
  switch (state_) {
    case State::kResultHead:
      return OnResultHead(p);
    case State::kColumnDefs:
    case State::kPrepareParams:
    case State::kPrepareColumns:
      if (p[0] == kErrHeader) return Err(p);
      if (--left_ > 0) return TrackStatus::kMore;
      if (state_ == State::kColumnDefs) return AfterColumns();
      if (state_ == State::kPrepareParams) return AfterPrepareParams();
      if (caps_ & CLIENT_DEPRECATE_EOF) return EndResult(false);
      state_ = State::kPrepareColumnsEof;
      return TrackStatus::kMore;
    case State::kColumnsEof:
      return OnColumnsEof(p);
    case State::kRows:
      return OnRow(p);
    case State::kFieldList:
      if (p[0] == kErrHeader) return Err(p);
      if (!IsResultSetEnd(p, caps_)) return TrackStatus::kMore;
      if (!ApplyTerminator(p)) return Malformed("bad EOF after field list");
      return EndResult(false);
    case State::kPrepareHead:
      return OnPrepareHead(p);
    case State::kPrepareParamsEof:
    case State::kPrepareColumnsEof:
      if (!IsEof(p) || !ApplyTerminator(p)) return Malformed("expected EOF after definitions");
      if (state_ == State::kPrepareParamsEof && prepare_ok_.num_columns > 0) {
        state_ = State::kPrepareColumns;
        left_ = prepare_ok_.num_columns;
        return TrackStatus::kMore;
      }
      return EndResult(false);
    case State::kSingle:
      return OnSingle(p);
    case State::kStatistics:
      if (p[0] == kErrHeader) return Err(p);
      return EndResult(false);
    case State::kChangeUser:
      if (p[0] == kErrHeader) return Err(p);
      if (p[0] == kOkHeader) return OnSingle(p);
      return TrackStatus::kMore;  // auth switch / more data: the session drives that exchange
    case State::kDone:
      break;
  }
  return Malformed("packet after the end of the response");
}

TrackStatus ResponseTracker::OnResultHead(std::span<const uint8_t> p) {
  if (p[0] == kErrHeader) return Err(p);
  if (p[0] == kOkHeader) {
    if (!ApplyTerminator(p)) return Malformed("bad OK packet");
    if (status_flags_ & SERVER_MORE_RESULTS_EXISTS) return TrackStatus::kMore;
    return EndResult(false);
  }
  if (p[0] == kLocalInfileHeader) {
    infile_name_ = std::string(AsStringView(p.subspan(1)));
    return TrackStatus::kLocalInfileRequest;  // state stays: OK/ERR (or more results) follow
  }
  Reader r(p);
  uint64_t columns = 0;
  if (!r.ReadLenEnc(&columns) || columns == 0) return Malformed("bad column count");
  left_ = columns;
  // MariaDB cache metadata / MySQL optional metadata: a flag byte says whether definitions follow.
  if (caps_ & (MARIADB_CLIENT_CACHE_METADATA | CLIENT_OPTIONAL_RESULTSET_METADATA)) {
    uint8_t follows = 1;
    if (!r.ReadU8(&follows)) return Malformed("column count without metadata flag");
    if (follows == 0) left_ = 0;
  }
  if (!r.empty()) return Malformed("trailing bytes after column count");
  if (left_ == 0) return AfterColumns();
  state_ = State::kColumnDefs;
  return TrackStatus::kMore;
}

TrackStatus ResponseTracker::AfterColumns() {
  state_ = (caps_ & CLIENT_DEPRECATE_EOF) ? State::kRows : State::kColumnsEof;
  return TrackStatus::kMore;
}

TrackStatus ResponseTracker::OnColumnsEof(std::span<const uint8_t> p) {
  if (p[0] == kErrHeader) return Err(p);
  if (!IsEof(p) || !ApplyTerminator(p)) return Malformed("expected EOF after column definitions");
  // A cursor was opened: the metadata is the whole answer; rows come with COM_STMT_FETCH.
  if (command_ == COM_STMT_EXECUTE && (status_flags_ & SERVER_STATUS_CURSOR_EXISTS)) {
    cursor_opened_ = true;
    return EndResult(true);
  }
  state_ = State::kRows;
  return TrackStatus::kMore;
}

TrackStatus ResponseTracker::OnRow(std::span<const uint8_t> p) {
  if (p[0] == kErrHeader) return Err(p);
  if (!IsResultSetEnd(p, caps_)) {
    ++rows_;
    return TrackStatus::kMore;
  }
  if (!ApplyTerminator(p)) return Malformed("bad end of result set");
  if (command_ == COM_STMT_EXECUTE && (status_flags_ & SERVER_STATUS_CURSOR_EXISTS) &&
      !(status_flags_ & SERVER_STATUS_LAST_ROW_SENT)) {
    cursor_opened_ = true;
  }
  if (command_ != COM_STMT_FETCH && (status_flags_ & SERVER_MORE_RESULTS_EXISTS)) {
    ++result_sets_;
    state_ = State::kResultHead;
    return TrackStatus::kMore;
  }
  return EndResult(command_ != COM_STMT_FETCH);
}

TrackStatus ResponseTracker::OnPrepareHead(std::span<const uint8_t> p) {
  if (p[0] == kErrHeader) return Err(p);
  Result<PrepareOk> ok = DecodePrepareOk(p);
  if (!ok.ok()) return Malformed(ok.status().message());
  prepare_ok_ = *ok;
  warnings_ = ok->warnings;
  if (prepare_ok_.num_params > 0) {
    state_ = State::kPrepareParams;
    left_ = prepare_ok_.num_params;
    return TrackStatus::kMore;
  }
  return AfterPrepareParams();
}

TrackStatus ResponseTracker::AfterPrepareParams() {
  if (prepare_ok_.num_params > 0 && !(caps_ & CLIENT_DEPRECATE_EOF) &&
      state_ == State::kPrepareParams) {
    state_ = State::kPrepareParamsEof;
    return TrackStatus::kMore;
  }
  if (prepare_ok_.num_columns == 0) return EndResult(false);
  state_ = State::kPrepareColumns;
  left_ = prepare_ok_.num_columns;
  return TrackStatus::kMore;
}

TrackStatus ResponseTracker::OnSingle(std::span<const uint8_t> p) {
  if (p[0] == kErrHeader) return Err(p);
  bool terminator = p[0] == kOkHeader || (p[0] == kEofHeader && IsResultSetEnd(p, caps_));
  if (!terminator || !ApplyTerminator(p)) return Malformed("expected OK, ERR or EOF");
  return EndResult(false);
}

TrackStatus ResponseTracker::Err(std::span<const uint8_t> p) {
  Result<ErrPacket> err = DecodeErr(p, caps_);
  if (!err.ok()) return Malformed(err.status().message());
  has_error_ = true;
  error_ = std::move(err).value();
  state_ = State::kDone;
  return TrackStatus::kDone;
}

bool ResponseTracker::ApplyTerminator(std::span<const uint8_t> p) {
  // A real EOF is 0xFE with < 9 bytes; under CLIENT_DEPRECATE_EOF the 0xFE packet is an OK.
  if (p[0] == kEofHeader && !(caps_ & CLIENT_DEPRECATE_EOF)) {
    Result<EofPacket> eof = DecodeEof(p);
    if (!eof.ok()) return false;
    status_flags_ = eof->status_flags;
    warnings_ = eof->warnings;
    has_status_ = true;
    return true;
  }
  Result<OkPacket> ok = DecodeOk(p, caps_);
  if (!ok.ok()) return false;
  status_flags_ = ok->status_flags;
  warnings_ = ok->warnings;
  affected_rows_ = ok->affected_rows;
  last_insert_id_ = ok->last_insert_id;
  session_state_ += ok->session_state_changes;
  has_status_ = true;
  return true;
}

TrackStatus ResponseTracker::EndResult(bool count_result_set) {
  if (count_result_set) ++result_sets_;
  state_ = State::kDone;
  return TrackStatus::kDone;
}

TrackStatus ResponseTracker::Malformed(std::string reason) {
  reason_ = std::move(reason);
  state_ = State::kDone;
  return TrackStatus::kError;
}

}  // namespace sluice::mysql
