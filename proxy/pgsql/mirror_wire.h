// The PostgreSQL mirror's wire, without I/O: what one segment's answer says (for both
// sides: ok or the first error's SQLSTATE, rows and their checksum, rows affected), and the
// shadow connection's own statement names for the client's. The client session and the
// shadow session feed them with the messages they already hold (proxy/pgsql/shadow.h).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "mirror/outcome.h"

namespace sluice::pgproxy {

// A DataRow longer than this counts in the checksum by its length only: the client's side
// streams large rows without holding them whole, and both sides must hash the same way.
inline constexpr size_t kMaxHashedRow = 64 << 10;

// One segment's answer (a Query, or the messages up to Sync: one ReadyForQuery), fed message
// by message. Both orders of checksum are kept; Fill picks the one the statement needs.
class PgOutcomeTracker {
 public:
  PgOutcomeTracker() { Begin(); }
  void Begin();
  // A DataRow of LENGTH payload bytes; PAYLOAD is all of it, or empty when it is longer
  // than kMaxHashedRow (then only its length is hashed).
  void Row(std::span<const uint8_t> payload, size_t length);
  // CommandComplete: the rows a write affected ("INSERT 0 3", "UPDATE 2", "COPY 5").
  void Complete(std::span<const uint8_t> payload);
  // ErrorResponse: the segment failed; the first error is kept.
  void Error(std::span<const uint8_t> payload);
  // Any message of the answer but ReadyForQuery; the ones above are recognised by type.
  void Note(char type, std::span<const uint8_t> payload);
  bool failed() const { return failed_; }
  // The answer's ok/error, rows and checksum (ordered: the statement has ORDER BY).
  void Fill(bool ordered, mirror::Outcome* o) const;

 private:
  mirror::ResultChecksum unordered_{false};
  mirror::ResultChecksum ordered_{true};
  uint64_t rows_ = 0;
  uint64_t affected_ = 0;
  bool failed_ = false;
  mirror::StatementError error_;
};

// The rows a CommandComplete tag reports: its last number (0 for "BEGIN", "SET", …).
uint64_t TagRows(std::string_view tag);

// The shadow's names for the client's prepared statements (transaction pooling: the client's
// statement names are sluice's on the source, where a second Parse of a name replaces the
// first and a Close only forgets it; the shadow gets the same meaning under names of its own:
// "sluice_m<N>", a fresh one per Parse). The unnamed statement stays unnamed; portals keep the
// client's names (they pass unchanged to the source too, and end with the transaction on both).
class ShadowStatementNames {
 public:
  // Appends to *out what the shadow gets for the client's message TYPE with PAYLOAD (WHOLE:
  // the message as the client sent it, type and length included): WHOLE itself, or WHOLE with
  // the statement name replaced; a Parse of a name in use is preceded by a Close of the
  // shadow's old statement. An error: the message is malformed.
  Status Map(char type, std::span<const uint8_t> payload, std::string_view whole, std::string* out);
  size_t size() const { return names_.size(); }

 private:
  const std::string* Find(std::string_view client) const;
  std::unordered_map<std::string, std::string> names_;  // the client's -> the shadow's
  uint64_t next_ = 0;
};

// Why a prepared statement fails on the shadow. A Parse the shadow refuses (a renamed
// column) is answered once, in a segment of its own that may not be in the report (a named
// Parse in transaction pooling runs nothing); every later execution of the statement then
// fails with 26000 "prepared statement ... does not exist", which hides the cause. This
// remembers the shadow's Parse errors by the shadow's statement name and puts the Parse's
// error in the place of such a 26000 (marked as such). Fed with the bytes of each segment
// as the shadow got them and the messages of its answer; no I/O.
class ShadowParseErrors {
 public:
  // The segment as sent to the shadow (whole messages, the shadow's statement names).
  Status Begin(std::string_view sent);
  // A message of the answer (ReadyForQuery excluded).
  void Note(char type);
  // The segment's answer is complete: O is its outcome (ok or its first error).
  void End(mirror::Outcome* o);
  size_t size() const { return failed_.size(); }
  static constexpr size_t kMaxRemembered = 256;  // names; the oldest is forgotten first

 private:
  void Forget(const std::string& name);
  std::vector<std::string> parses_;  // the named Parses before the segment's first other message
  std::vector<std::string> closed_;  // statements the segment closes
  std::string bound_;                // the statement of the segment's first Bind
  size_t parse_completes_ = 0;
  std::unordered_map<std::string, mirror::StatementError> failed_;
  std::deque<std::string> order_;  // failed_'s names, oldest first
};

}  // namespace sluice::pgproxy
