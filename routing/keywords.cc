#include "routing/keywords.h"

#include <algorithm>
#include <array>

namespace sluice::routing {
namespace {

struct Entry {
  std::string_view text;
  Kw kw;
  uint8_t flags;
};

constexpr Entry kByEnum[] = {{"", Kw::kNone, 0},
#define SLUICE_KW_ENTRY(e, s, f) {s, Kw::k##e, f},
                             SLUICE_KEYWORDS(SLUICE_KW_ENTRY)
#undef SLUICE_KW_ENTRY
};
constexpr size_t kCount = sizeof(kByEnum) / sizeof(kByEnum[0]);

// Sorted by text at compile time so lookup is a binary search.
constexpr auto kSorted = [] {
  std::array<Entry, kCount - 1> a{};
  for (size_t i = 1; i < kCount; ++i) a[i - 1] = kByEnum[i];
  std::sort(a.begin(), a.end(), [](const Entry& x, const Entry& y) { return x.text < y.text; });
  return a;
}();

constexpr size_t kMaxKeywordLength = [] {
  size_t m = 0;
  for (const Entry& e : kByEnum) m = std::max(m, e.text.size());
  return m;
}();

}  // namespace

Kw LookupKeyword(std::string_view word) {
  if (word.empty() || word.size() > kMaxKeywordLength) return Kw::kNone;
  char buf[kMaxKeywordLength];
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    buf[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  std::string_view upper(buf, word.size());
  auto it = std::lower_bound(kSorted.begin(), kSorted.end(), upper,
                             [](const Entry& e, std::string_view w) { return e.text < w; });
  return (it != kSorted.end() && it->text == upper) ? it->kw : Kw::kNone;
}

std::string_view KeywordText(Kw kw) {
  return kByEnum[static_cast<size_t>(kw)].text;
}
uint8_t KeywordFlags(Kw kw) {
  return kByEnum[static_cast<size_t>(kw)].flags;
}

}  // namespace sluice::routing
