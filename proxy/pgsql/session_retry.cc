// PgSession, the read retry: a batch that provably changes nothing (a lone read outside a
// transaction: a simple Query, or extended-protocol messages up to Sync, or up to a Flush the
// client waits on, whose statements are all reads sluice can prepare again, Closes among
// them) is kept while it is outstanding, and runs again on another server when its
// connection dies, or ends with a shutdown FATAL, before any byte of its answer reached the
// client. A write that may have reached a server is never sent again; the client's error
// says why a batch was not. See docs/operations.md ("Held writes", the reads that run
// elsewhere).
#include <cstring>
#include <optional>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "proxy/pgsql/session.h"

namespace sluice::pgproxy {
namespace {

namespace fe = pgsql::frontend;

// A batch larger than this is not kept for a retry (the bound on the copy).
constexpr size_t kMaxRetryBatch = 1u << 20;

bool ReadAlone(const StatementInfo& info) {
  return info.is_read && !info.multi_statement;
}

// The C string a message's payload starts with (a Parse's or Describe's name), without a
// full decode; nullopt when it does not end.
std::optional<std::string_view> LeadingName(std::span<const uint8_t> p) {
  if (p.empty()) return std::nullopt;
  const auto* s = reinterpret_cast<const char*>(p.data());
  const void* nul = memchr(s, 0, p.size());
  if (!nul) return std::nullopt;
  return std::string_view(s, static_cast<const char*>(nul) - s);
}

// A Bind's statement name: the second C string (after the portal's).
std::optional<std::string_view> SecondName(std::span<const uint8_t> p) {
  auto portal = LeadingName(p);
  if (!portal) return std::nullopt;
  return LeadingName(p.subspan(portal->size() + 1));
}

bool IsShutdownFatal(std::string_view payload) {
  auto e =
      pgsql::DecodeErrorFields({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  if (!e.ok() || (e->severity() != "FATAL" && e->severity() != "PANIC")) return false;
  // 57P01 admin_shutdown (a fast shutdown, pg_terminate_backend, or "terminating connection
  // due to unexpected postmaster exit" when the postmaster was killed), 57P02 crash_shutdown
  // (another backend crashed), 57P03 cannot_connect_now (shutting down, starting up): the
  // server is going away, not judging the statement.
  std::string_view code = e->sqlstate();
  return code == "57P01" || code == "57P02" || code == "57P03";
}

}  // namespace

// read_alone: the statement this message carries (Query, Parse, a named Bind), as the
// forwarding classified it (OnStatement), is a lone read.
bool PgSession::RetryAllows(char type, std::span<const uint8_t> p, bool read_alone) {
  switch (type) {
    case fe::kQuery:
      return read_alone;
    case fe::kParse: {
      auto name = LeadingName(p);
      if (!name || !read_alone) return false;
      if (name->empty()) retry_unnamed_read_ = true;
      return true;  // a named one is in the rewriter's statements now: prepared again
    }
    case fe::kBind: {
      // The unnamed statement only when this batch parsed it; a named one sluice knows.
      auto name = SecondName(p);
      if (!name) return false;
      if (name->empty()) return retry_unnamed_read_;
      const ClientStmt* cs = extended_.Find(*name);
      return cs && ReadAlone(cs->info);
    }
    case fe::kDescribe: {
      if (p.empty()) return false;
      if (p[0] != pgsql::kTargetStatement) return true;  // the batch's own portal
      auto name = LeadingName(p.subspan(1));
      if (!name) return false;
      return name->empty() ? retry_unnamed_read_ : extended_.Find(*name) != nullptr;
    }
    case fe::kExecute:  // runs what a Bind above bound
    case fe::kFlush:
    case fe::kSync:
      return true;
    case fe::kClose: {
      // Transaction mode (retry_open_): a portal or the unnamed statement lives and dies
      // with the connection, and a named statement's Close changes only sluice's map of the
      // client's names (extended.cc), which the retry puts back first.
      if (p.empty()) return false;
      if (p[0] != pgsql::kTargetStatement) return true;
      auto name = LeadingName(p.subspan(1));
      if (!name) return false;
      if (auto cs = extended_.TakeClosed(*name))
        retry_closed_.emplace_back(std::string(*name), std::move(*cs));
      return true;
    }
    default:  // FunctionCall, COPY
      return false;
  }
}

void PgSession::NoteRetry(char type, std::span<const uint8_t> p, size_t total, bool idle_before,
                          bool read_alone) {
  if (!mid_segment_) {
    // A batch starts: a candidate while nothing else is outstanding, outside a transaction,
    // on a pooled (transaction-mode) connection that holds no state of the session.
    ForgetRetry();
    retry_open_ = idle_before && transaction_mode_ && txn_status_ == pgsql::kTxIdle && !pinned_;
  }
  if (!retry_open_) return;
  if (retry_batch_.size() + total > kMaxRetryBatch || !RetryAllows(type, p, read_alone)) {
    ForgetRetry();
    return;
  }
  size_t at = retry_batch_.size();
  retry_batch_.resize(at + total);
  evbuffer_copyout(client_.input(), retry_batch_.data() + at, total);
  if (type == fe::kSync || type == fe::kQuery) {
    retry_open_ = false;
    retry_complete_ = true;
  } else if (type == fe::kFlush) {
    retry_complete_ = true;  // the client waits for answers without a Sync: kept as sent
  }
}

void PgSession::ForgetRetry() {
  retry_batch_.clear();
  retry_closed_.clear();
  retry_open_ = retry_complete_ = retry_unnamed_read_ = false;
}

std::string_view PgSession::NotRetriedWhy() const {
  if (cur_ && cur_->forwarder.started())
    return "; not run again: part of its answer had reached the client";
  if (retry_complete_ && !retry_batch_.empty()) return "; not run again: its retries are spent";
  return "; not run again: it may have changed data (not a lone read outside a transaction)";
}

bool PgSession::RetryLostBatch(std::string_view fatal) {
  // Its Sync (or Query) the only thing outstanding, or messages up to a Flush and no Sync.
  bool synced = outstanding_ == 1 && !mid_segment_;
  bool flushed = outstanding_ == 0 && mid_segment_;
  if (!retry_complete_ || retry_batch_.empty() || !(synced || flushed) ||
      (cur_ && cur_->forwarder.started()) || (cur_ && cur_->forwarder.mid_frame()) || timed_out_ ||
      (!fatal.empty() && !IsShutdownFatal(fatal)) || !lease_.Retry())
    return false;
  // It runs again from its first message, as if it had just come: routed (away from the
  // server that failed), prepared again where the new connection lacks its statements, the
  // client's names its Closes took given back.
  evbuffer_prepend(client_.input(), retry_batch_.data(), retry_batch_.size());
  for (auto& [name, cs] : retry_closed_) extended_.Restore(std::move(name), std::move(cs));
  ForgetRetry();
  mid_segment_ = false;
  open_segment_ = SegmentStat{};
  extended_.ClearExpects();  // the dead connection's replies will not come
  outstanding_ = 0;
  sent_segments_.clear();
  resp_segment_ = send_segment_;
  segment_error_ = false;
  pending_write_ = pending_sequence_ = false;
  pending_pg_pins_ = 0;
  // The batch's segment is sent again: the settings' count of segments must not see it twice.
  settings_.Abandon();
  StopQueryClock();
  phase_ = Phase::kReady;
  rerouting_ = true;
  ProcessClientInput();
  return true;
}

}  // namespace sluice::pgproxy
