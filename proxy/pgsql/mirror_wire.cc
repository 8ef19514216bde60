#include "proxy/pgsql/mirror_wire.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"

namespace sluice::pgproxy {
namespace {

namespace be = pgsql::backend;
namespace fe = pgsql::frontend;

std::string_view AsText(std::span<const uint8_t> p) {
  return {reinterpret_cast<const char*>(p.data()), p.size()};
}

}  // namespace

uint64_t TagRows(std::string_view tag) {
  while (!tag.empty() && tag.back() == '\0') tag.remove_suffix(1);
  size_t end = tag.size();
  size_t start = end;
  while (start > 0 && tag[start - 1] >= '0' && tag[start - 1] <= '9') --start;
  if (start == end || (start > 0 && tag[start - 1] != ' ')) return 0;
  uint64_t n = 0;
  for (size_t i = start; i < end; ++i) n = n * 10 + static_cast<uint64_t>(tag[i] - '0');
  return n;
}

void PgOutcomeTracker::Begin() {
  unordered_ = mirror::ResultChecksum(false);
  ordered_ = mirror::ResultChecksum(true);
  rows_ = 0;
  affected_ = 0;
  failed_ = false;
  error_ = {};
}

void PgOutcomeTracker::Row(std::span<const uint8_t> payload, size_t length) {
  ++rows_;
  std::string len;
  std::string_view field = AsText(payload);
  if (length > kMaxHashedRow || payload.size() != length) {
    len = fmt::format("row of {} bytes", length);
    field = len;
  }
  for (auto* sum : {&unordered_, &ordered_}) {
    sum->AddField(field);
    sum->EndRow();
  }
}

void PgOutcomeTracker::Complete(std::span<const uint8_t> payload) {
  auto c = pgsql::DecodeCommandComplete(payload);
  if (c.ok()) affected_ += TagRows(c->tag);
}

void PgOutcomeTracker::Error(std::span<const uint8_t> payload) {
  if (failed_) return;
  failed_ = true;
  auto e = pgsql::DecodeErrorFields(payload);
  if (e.ok()) {
    error_.sqlstate = std::string(e->sqlstate());
    error_.text = std::string(e->message());
  } else {
    error_.sqlstate = "XX000";
    error_.text = "malformed ErrorResponse";
  }
}

void PgOutcomeTracker::Note(char type, std::span<const uint8_t> payload) {
  switch (type) {
    case be::kDataRow:
      Row(payload, payload.size());
      break;
    case be::kCommandComplete:
      Complete(payload);
      break;
    case be::kErrorResponse:
      Error(payload);
      break;
    default:
      break;
  }
}

void PgOutcomeTracker::Fill(bool ordered, mirror::Outcome* o) const {
  o->ok = !failed_;
  if (failed_) o->error = error_;
  o->rows_returned = rows_;
  // A SELECT's tag counts its rows too: rows affected are a write's.
  o->rows_affected = rows_ ? 0 : affected_;
  o->checksum = (ordered ? ordered_ : unordered_).Value();
}

const std::string* ShadowStatementNames::Find(std::string_view client) const {
  auto it = names_.find(std::string(client));
  return it == names_.end() ? nullptr : &it->second;
}

Status ShadowStatementNames::Map(char type, std::span<const uint8_t> p, std::string_view whole,
                                 std::string* out) {
  switch (type) {
    case fe::kParse: {
      auto parse = pgsql::DecodeParse(p);
      if (!parse.ok()) return parse.status();
      if (parse->statement.empty()) break;
      std::string& mine = names_[std::string(parse->statement)];
      // The source replaced the client's statement of that name: so does the shadow.
      if (!mine.empty()) pgsql::AppendClose(out, pgsql::kTargetStatement, mine);
      mine = fmt::format("sluice_m{}", ++next_);
      return pgsql::RewriteParseStatementName(p, mine, out);
    }
    case fe::kBind: {
      auto bind = pgsql::DecodeBind(p);
      if (!bind.ok()) return bind.status();
      // Unknown names pass as they are: the shadow says "does not exist", as the source did.
      if (const std::string* mine = bind->statement.empty() ? nullptr : Find(bind->statement))
        return pgsql::RewriteBindStatementName(p, *mine, out);
      break;
    }
    case fe::kDescribe: {
      auto d = pgsql::DecodeDescribe(p);
      if (!d.ok()) return d.status();
      if (d->kind != pgsql::kTargetStatement || d->name.empty()) break;
      if (const std::string* mine = Find(d->name)) return pgsql::RewriteDescribeName(p, *mine, out);
      break;
    }
    case fe::kClose: {
      auto c = pgsql::DecodeClose(p);
      if (!c.ok()) return c.status();
      if (c->kind != pgsql::kTargetStatement || c->name.empty()) break;
      auto it = names_.find(std::string(c->name));
      if (it == names_.end()) break;
      Status st = pgsql::RewriteCloseName(p, it->second, out);
      names_.erase(it);
      return st;
    }
    default:
      break;
  }
  out->append(whole);
  return Status::Ok();
}

Status ShadowParseErrors::Begin(std::string_view in) {
  parses_.clear();
  closed_.clear();
  bound_.clear();
  parse_completes_ = 0;
  bool leading = true;
  for (size_t i = 0; i + 5 <= in.size();) {
    uint32_t len;
    memcpy(&len, in.data() + i + 1, 4);
    len = ntohl(len);
    if (len < 4 || i + 1 + len > in.size()) return ProtocolError("a truncated message");
    char type = in[i];
    std::span<const uint8_t> p(reinterpret_cast<const uint8_t*>(in.data()) + i + 5, len - 4);
    i += 1 + size_t{len};
    if (type == fe::kParse) {
      auto parse = pgsql::DecodeParse(p);
      if (!parse.ok()) return parse.status();
      // Only a Parse before any other message is told apart by the ParseCompletes before
      // the error (a Close ahead of it is answered by a CloseComplete).
      if (leading) parses_.emplace_back(parse->statement);
      continue;
    }
    if (type == fe::kClose) {
      auto c = pgsql::DecodeClose(p);
      if (!c.ok()) return c.status();
      if (c->kind == pgsql::kTargetStatement) closed_.emplace_back(c->name);
      continue;
    }
    leading = false;
    if (type == fe::kBind && bound_.empty()) {
      auto b = pgsql::DecodeBind(p);
      if (!b.ok()) return b.status();
      bound_ = std::string(b->statement);
    }
  }
  return Status::Ok();
}

void ShadowParseErrors::Note(char type) {
  if (type == be::kParseComplete) ++parse_completes_;
}

void ShadowParseErrors::Forget(const std::string& name) {
  if (failed_.erase(name)) order_.erase(std::find(order_.begin(), order_.end(), name));
}

void ShadowParseErrors::End(mirror::Outcome* o) {
  for (const std::string& n : closed_) Forget(n);
  // The Parses answered with ParseComplete succeeded: a name parsed again is good again.
  for (size_t i = 0; i < std::min(parse_completes_, parses_.size()); ++i) Forget(parses_[i]);
  if (o->ok) return;
  if (parse_completes_ < parses_.size()) {
    const std::string& name = parses_[parse_completes_];  // the Parse the error answered
    if (name.empty()) return;                             // the unnamed one: its own segment
    Forget(name);
    if (failed_.size() >= kMaxRemembered) {
      failed_.erase(order_.front());
      order_.pop_front();
    }
    failed_[name] = o->error;
    order_.push_back(name);
    return;
  }
  if (o->error.sqlstate != "26000" || bound_.empty()) return;
  auto it = failed_.find(bound_);
  if (it == failed_.end()) return;
  o->error.sqlstate = it->second.sqlstate;
  o->error.text = it->second.text + " (at its Parse on the shadow; its executions fail with 26000)";
}

}  // namespace sluice::pgproxy
