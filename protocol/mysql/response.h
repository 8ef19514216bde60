// ResponseTracker: follows the server's packets for one client command and says where the
// response ends, without materialising it; afterwards it tells status flags, OK/ERR and counts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/statement.h"

namespace sluice::mysql {

// False for COM_QUIT, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA: the server sends nothing.
bool CommandExpectsResponse(uint8_t command);

enum class TrackStatus {
  kMore,   // forward the packet, more follow
  kDone,   // this packet ends the response
  kError,  // the packet does not fit the protocol (see error_reason())
  // 0xFB + file name: the client must now stream the file and an empty packet; the next server
  // packet is the statement's OK/ERR. Keep feeding server packets afterwards.
  kLocalInfileRequest,
};

class ResponseTracker {
 public:
  // Starts on a client command. `command` is its first payload byte, `caps` the capabilities
  // negotiated on the connection the response comes from (CLIENT_DEPRECATE_EOF changes where
  // result sets end). Resets everything from the previous command.
  void Begin(uint8_t command, uint64_t caps);

  // One wire packet from the server (parts of a split packet are fed one by one).
  TrackStatus Feed(const PacketView& packet);

  // The packets at the front of a contiguous run of wire bytes (headers included) that the
  // tracker follows from their first byte alone: column definitions and the rows of a result
  // set, as Feed would. It stops before a packet that needs Feed (an end of the result set,
  // an ERR, an empty or split packet, a sequence gap, one not all in `wire`) and after the
  // packet that reaches `limit` bytes. rows() counts the rows it passed.
  struct Run {
    size_t bytes = 0;
    uint64_t packets = 0;
    uint64_t rows = 0;
    uint8_t last_seq = 0;  // of the last packet passed (when packets > 0)
  };
  Run PassRun(std::span<const uint8_t> wire, size_t limit);

  bool done() const { return state_ == State::kDone; }
  bool ended_in_error() const { return has_error_; }
  const ErrPacket& error() const { return error_; }

  // Status flags of the last OK/EOF seen; ERR carries none, so after an ERR alone the caller's
  // previous knowledge stays valid (has_status_flags() is false).
  bool has_status_flags() const { return has_status_; }
  uint16_t status_flags() const { return status_flags_; }
  bool in_transaction() const { return (status_flags_ & SERVER_STATUS_IN_TRANS) != 0; }
  // An execute answered with a cursor (metadata then CURSOR_EXISTS, no rows): COM_STMT_FETCH
  // calls will follow until LAST_ROW_SENT.
  bool cursor_opened() const { return cursor_opened_; }

  // From the last OK packet (the final one for multi-results).
  uint64_t affected_rows() const { return affected_rows_; }
  uint64_t last_insert_id() const { return last_insert_id_; }
  uint16_t warnings() const { return warnings_; }
  // Session-state-change data of every OK in the response, concatenated (still a valid list).
  const std::string& session_state_changes() const { return session_state_; }

  uint64_t rows() const { return rows_; }                // over all result sets
  uint32_t result_sets() const { return result_sets_; }  // with columns; plain OKs not counted
  const PrepareOk& prepare_ok() const { return prepare_ok_; }  // COM_STMT_PREPARE only
  const std::string& local_infile_name() const { return infile_name_; }
  const std::string& error_reason() const { return reason_; }

 private:
  enum class State {
    kDone,
    kResultHead,  // OK, ERR, 0xFB or a column count
    kColumnDefs,
    kColumnsEof,
    kRows,
    kFieldList,
    kPrepareHead,
    kPrepareParams,
    kPrepareParamsEof,
    kPrepareColumns,
    kPrepareColumnsEof,
    kSingle,      // one OK / ERR / EOF
    kStatistics,  // one string packet
    kChangeUser,  // an authentication exchange ending in OK or ERR
  };

  TrackStatus Dispatch(std::span<const uint8_t> p);
  TrackStatus OnResultHead(std::span<const uint8_t> p);
  TrackStatus OnColumnsEof(std::span<const uint8_t> p);
  TrackStatus OnRow(std::span<const uint8_t> p);
  TrackStatus OnPrepareHead(std::span<const uint8_t> p);
  TrackStatus OnSingle(std::span<const uint8_t> p);
  TrackStatus AfterColumns();
  TrackStatus AfterPrepareParams();
  TrackStatus Err(std::span<const uint8_t> p);
  // OK (0x00) or EOF/OK-as-EOF (0xFE) that may end a response; records its fields.
  bool ApplyTerminator(std::span<const uint8_t> p);
  TrackStatus EndResult(bool count_result_set);
  TrackStatus Malformed(std::string reason);

  State state_ = State::kDone;
  uint8_t command_ = 0;
  uint64_t caps_ = 0;
  bool continued_ = false;  // the previous wire packet was 0xFFFFFF bytes
  bool have_seq_ = false;
  uint8_t next_seq_ = 0;
  uint64_t left_ = 0;  // column / parameter definitions still expected

  bool has_error_ = false;
  ErrPacket error_;
  bool has_status_ = false;
  uint16_t status_flags_ = 0;
  bool cursor_opened_ = false;
  uint64_t affected_rows_ = 0;
  uint64_t last_insert_id_ = 0;
  uint16_t warnings_ = 0;
  std::string session_state_;
  uint64_t rows_ = 0;
  uint32_t result_sets_ = 0;
  PrepareOk prepare_ok_;
  std::string infile_name_;
  std::string reason_;
};

}  // namespace sluice::mysql
