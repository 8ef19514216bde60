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

constexpr size_t kMaxKeywordLength = [] {
  size_t m = 0;
  for (const Entry& e : kByEnum) m = std::max(m, e.text.size());
  return m;
}();

// An open-addressing table built at compile time: a word costs one hash of its upper-case
// bytes and, nearly always, one comparison (a binary search cost ~8 and was a tenth of a
// PostgreSQL statement's user-space time). The hash folds the length in, so words of other
// lengths rarely collide.
constexpr uint32_t WordHash(std::string_view upper) {
  uint32_t h = 2166136261u ^ static_cast<uint32_t>(upper.size());
  for (char c : upper) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}
constexpr size_t kSlots = 1024;  // a power of two, more than 4 x the keywords
static_assert(kSlots > 4 * kCount);
constexpr auto kTable = [] {
  std::array<uint16_t, kSlots> t{};  // index into kByEnum; 0 is empty
  for (size_t i = 1; i < kCount; ++i) {
    size_t slot = WordHash(kByEnum[i].text) & (kSlots - 1);
    while (t[slot] != 0) slot = (slot + 1) & (kSlots - 1);
    t[slot] = static_cast<uint16_t>(i);
  }
  return t;
}();

}  // namespace

Kw LookupKeyword(std::string_view word) {
  if (word.empty() || word.size() > kMaxKeywordLength) return Kw::kNone;
  char buf[kMaxKeywordLength];
  uint32_t h = 2166136261u ^ static_cast<uint32_t>(word.size());  // WordHash, as it upcases
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    buf[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    h = (h ^ static_cast<uint8_t>(buf[i])) * 16777619u;
  }
  std::string_view upper(buf, word.size());
  for (size_t slot = h & (kSlots - 1);; slot = (slot + 1) & (kSlots - 1)) {
    uint16_t i = kTable[slot];
    if (i == 0) return Kw::kNone;
    if (kByEnum[i].text == upper) return kByEnum[i].kw;
  }
}

std::string_view KeywordText(Kw kw) {
  return kByEnum[static_cast<size_t>(kw)].text;
}
uint8_t KeywordFlags(Kw kw) {
  return kByEnum[static_cast<size_t>(kw)].flags;
}

}  // namespace sluice::routing
