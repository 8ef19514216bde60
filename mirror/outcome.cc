#include "mirror/outcome.h"

#include <cctype>

namespace sluice::mirror {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

// splitmix64's finaliser: spreads every input bit over the output, so that summing row
// hashes behaves like summing random values.
uint64_t Finalise(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

const char* SideName(Side s) {
  return s == Side::kSource ? "source" : "shadow";
}

PairFindings Compare(const OutcomePair& p) {
  PairFindings f;
  if (!p.shadow) return f;
  const Outcome& a = p.source;
  const Outcome& b = *p.shadow;
  if (!b.ok && (a.ok || a.error.code != b.error.code || a.error.sqlstate != b.error.sqlstate))
    f.new_error = true;
  if (a.ok && b.ok) {
    f.row_count_differs =
        a.read ? a.rows_returned != b.rows_returned : a.rows_affected != b.rows_affected;
    f.result_mismatch = a.read && (a.checksum != b.checksum || a.rows_returned != b.rows_returned);
  }
  return f;
}

void ResultChecksum::Mix(const void* p, size_t n) {
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) row_ = (row_ ^ c[i]) * kFnvPrime;
}

void ResultChecksum::AddField(std::string_view bytes) {
  if (row_ == 0) row_ = kFnvOffset;
  // A length prefix keeps ("ab","c") and ("a","bc") apart; 0xff marks a non-NULL field.
  unsigned char tag = 0xff;
  Mix(&tag, 1);
  uint64_t n = bytes.size();
  Mix(&n, sizeof n);
  Mix(bytes.data(), bytes.size());
}

void ResultChecksum::AddNull() {
  if (row_ == 0) row_ = kFnvOffset;
  unsigned char tag = 0;
  Mix(&tag, 1);
}

void ResultChecksum::EndRow() {
  uint64_t h = Finalise(row_ == 0 ? kFnvOffset : row_);
  acc_ = ordered_ ? Finalise(acc_ * kFnvPrime + h) : acc_ + h;
  row_ = 0;
  ++rows_;
}

uint64_t ResultChecksum::Value() const {
  return Finalise(acc_ ^ Finalise(rows_ + (ordered_ ? 0x9e3779b97f4a7c15ull : 0)));
}

bool HasOrderBy(std::string_view t) {
  // ASCII only (keywords are), inline: this runs over every mirrored statement's digest on
  // the client's path, where std::toupper was a library call per character.
  auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
  auto word_at = [&](size_t i, std::string_view w) {
    if (i + w.size() > t.size()) return false;
    for (size_t k = 0; k < w.size(); ++k)
      if (upper(t[i + k]) != w[k]) return false;
    bool left = i == 0 || !(std::isalnum(static_cast<unsigned char>(t[i - 1])) || t[i - 1] == '_');
    size_t e = i + w.size();
    bool right = e >= t.size() || !(std::isalnum(static_cast<unsigned char>(t[e])) || t[e] == '_');
    return left && right;
  };
  int depth = 0;
  bool found = false;  // the last top-level ORDER BY, reset by a later UNION of another branch
  char quote = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (depth != 0 || (upper(c) != 'U' && upper(c) != 'O')) {
      continue;  // no keyword starts here
    } else if (word_at(i, "UNION")) {
      found = false;
    } else if (word_at(i, "ORDER")) {
      size_t j = i + 5;
      while (j < t.size() && std::isspace(static_cast<unsigned char>(t[j]))) ++j;
      if (j > i + 5 && word_at(j, "BY")) found = true;
    }
  }
  return found;
}

std::optional<OutcomePair> OutcomePairer::AddSource(Outcome o) {
  pending_.push_back(std::move(o));
  if (pending_.size() <= max_pending_) return std::nullopt;
  OutcomePair p{std::move(pending_.front()), std::nullopt};
  pending_.pop_front();
  return p;
}

std::optional<OutcomePair> OutcomePairer::AddShadow(Outcome o, std::deque<OutcomePair>* unpaired) {
  while (!pending_.empty() && pending_.front().seq < o.seq) {
    unpaired->push_back(OutcomePair{std::move(pending_.front()), std::nullopt});
    pending_.pop_front();
  }
  if (pending_.empty() || pending_.front().seq != o.seq) return std::nullopt;
  OutcomePair p{std::move(pending_.front()), std::move(o)};
  pending_.pop_front();
  return p;
}

std::deque<OutcomePair> OutcomePairer::Cut() {
  std::deque<OutcomePair> out;
  for (Outcome& o : pending_) out.push_back(OutcomePair{std::move(o), std::nullopt});
  pending_.clear();
  return out;
}

}  // namespace sluice::mirror
