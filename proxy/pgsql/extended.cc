#include "proxy/pgsql/extended.h"

#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "routing/digest.h"

namespace sluice::pgproxy {
namespace {

namespace fe = pgsql::frontend;
constexpr std::string_view kNoopStatement = "sluice_closed_statement";

}  // namespace

void ExtendedRewriter::Evict(const std::string& evicted, uint64_t segment, std::string* out) {
  if (evicted.empty()) return;
  pgsql::AppendClose(out, pgsql::kTargetStatement, evicted);
  close_expects_.push_back(Expect{true, "", segment});
}

// Appends to *out a Parse of cs on the backend unless it has it already.
void ExtendedRewriter::EnsurePrepared(const ClientStmt& cs, uint64_t segment, PreparedLru* prepared,
                                      std::string* out) {
  if (prepared->Touch(cs.sluice_name)) return;
  Evict(prepared->Insert(cs.sluice_name), segment, out);
  pgsql::Parse parse;
  parse.statement = cs.sluice_name;
  parse.query = cs.text;
  parse.param_types = cs.param_types;
  pgsql::AppendParse(out, parse);
  parse_expects_.push_back(Expect{true, cs.sluice_name, segment});
}

Status ExtendedRewriter::Rewrite(char type, std::span<const uint8_t> p, bool transaction_mode,
                                 uint64_t segment, PreparedLru* prepared, std::string* out,
                                 bool* rewritten) {
  *rewritten = false;
  switch (type) {
    case fe::kParse: {
      auto parse = pgsql::DecodeParse(p);
      if (!parse.ok()) return parse.status();
      StatementInfo info = cb_->Classify(parse->query);
      if (parse->statement.empty() || !transaction_mode) {
        cb_->OnStatement(info, parse->query, nullptr, true);
        parse_expects_.push_back(Expect{false, "", segment});
        return Status::Ok();
      }
      // A named statement runs at its Bind: the Parse alone changes no data.
      StatementInfo parsed = info;
      parsed.writes = false;
      cb_->OnStatement(parsed, parse->query, nullptr, false);
      ClientStmt cs;
      cs.text = std::string(parse->query);
      cs.param_types = parse->param_types;
      cs.sluice_name = SluiceStatementName(cs.text, cs.param_types);
      cs.info = std::move(info);
      routing::Digest(cs.text, routing::Dialect::kPostgres, &cs.digest);
      cs.digest_hash = routing::DigestHash(cs.digest);
      if (prepared->Contains(cs.sluice_name)) {
        // Prepared here already (by this client or another): replace it so the client
        // gets its own ParseComplete in order.
        pgsql::AppendClose(out, pgsql::kTargetStatement, cs.sluice_name);
        close_expects_.push_back(Expect{true, "", segment});
        prepared->Touch(cs.sluice_name);
      } else {
        Evict(prepared->Insert(cs.sluice_name), segment, out);
      }
      Status st = pgsql::RewriteParseStatementName(p, cs.sluice_name, out);
      parse_expects_.push_back(Expect{false, cs.sluice_name, segment});
      stmts_[std::string(parse->statement)] = std::move(cs);
      *rewritten = true;
      return st;
    }
    case fe::kBind: {
      auto bind = pgsql::DecodeBindNames(p);  // the values pass unread
      if (!bind.ok()) return bind.status();
      if (bind->statement.empty() || !transaction_mode) return Status::Ok();
      auto it = stmts_.find(std::string(bind->statement));
      if (it == stmts_.end()) return Status::Ok();  // the server answers "does not exist"
      cb_->OnStatement(it->second.info, it->second.text, &it->second, true);
      EnsurePrepared(it->second, segment, prepared, out);
      *rewritten = true;
      return pgsql::RewriteBindStatementName(p, it->second.sluice_name, out);
    }
    case fe::kDescribe: {
      auto d = pgsql::DecodeDescribe(p);
      if (!d.ok()) return d.status();
      if (d->kind != pgsql::kTargetStatement || d->name.empty() || !transaction_mode)
        return Status::Ok();
      auto it = stmts_.find(std::string(d->name));
      if (it == stmts_.end()) return Status::Ok();
      EnsurePrepared(it->second, segment, prepared, out);
      *rewritten = true;
      return pgsql::RewriteDescribeName(p, it->second.sluice_name, out);
    }
    case fe::kClose: {
      auto c = pgsql::DecodeClose(p);
      if (!c.ok()) return c.status();
      Status st;
      if (c->kind == pgsql::kTargetStatement && !c->name.empty() && transaction_mode) {
        // Only the client's name goes away; the backend copy may serve others. A Close of
        // a name nobody has still gets its CloseComplete in order.
        last_closed_.reset();
        if (auto it = stmts_.find(std::string(c->name)); it != stmts_.end()) {
          last_closed_.emplace(it->first, std::move(it->second));
          stmts_.erase(it);
        }
        st = pgsql::RewriteCloseName(p, kNoopStatement, out);
        *rewritten = true;
      }
      close_expects_.push_back(Expect{false, "", segment});
      return st;
    }
    default:
      return Status::Ok();
  }
}

std::optional<ClientStmt> ExtendedRewriter::TakeClosed(std::string_view name) {
  if (!last_closed_ || last_closed_->first != name) return std::nullopt;
  std::optional<ClientStmt> cs(std::move(last_closed_->second));
  last_closed_.reset();
  return cs;
}

bool ExtendedRewriter::SwallowParseComplete() {
  if (parse_expects_.empty()) return false;
  bool swallow = parse_expects_.front().swallow;
  parse_expects_.pop_front();
  return swallow;
}

bool ExtendedRewriter::SwallowCloseComplete() {
  if (close_expects_.empty()) return false;
  bool swallow = close_expects_.front().swallow;
  close_expects_.pop_front();
  return swallow;
}

void ExtendedRewriter::DropSegment(uint64_t segment, PreparedLru* prepared) {
  while (!parse_expects_.empty() && parse_expects_.front().segment <= segment) {
    if (prepared && !parse_expects_.front().name.empty())
      prepared->Erase(parse_expects_.front().name);
    parse_expects_.pop_front();
  }
  while (!close_expects_.empty() && close_expects_.front().segment <= segment)
    close_expects_.pop_front();
}

void ExtendedRewriter::ClearExpects() {
  parse_expects_.clear();
  close_expects_.clear();
}

const ClientStmt* ExtendedRewriter::Find(std::string_view name) const {
  auto it = stmts_.find(std::string(name));
  return it == stmts_.end() ? nullptr : &it->second;
}

}  // namespace sluice::pgproxy
