// Digest: a statement's shape with its literals replaced by '?', the key of per-query
// statistics and of query rules' match_digest (ProxySQL's stats_mysql_query_digest idea).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/sql_lexer.h"

namespace sluice::routing {

// Only the first kDigestMaxInput bytes of a statement are digested: the shape of a query
// shows in its head, and a multi-megabyte INSERT must not cost more than a short one.
inline constexpr size_t kDigestMaxInput = 2048;

// Writes the digest of `sql` into *out (cleared first; reuse the string to avoid
// allocating). Rules, in order:
//  - comments are dropped (a MySQL /*! ... */ executable comment counts as code);
//  - strings, numbers, hex/bit literals, dollar-quoted strings and placeholders ($1, ?)
//    become '?'; a sign directly before a number joins it; TRUE, FALSE, NULL stay;
//  - a parenthesised list of literals becomes "(?)" for one item, "(?,...)" for more;
//  - VALUES (...),(...),... keeps the first row and replaces the others with ",...";
//  - keywords and identifiers keep their case;
//  - spacing is canonical: one space between words, around operators (not "::"),
//    none inside parentheses, before ',' or around '.', none after ','.
void Digest(std::string_view sql, Dialect dialect, std::string* out);

// A stable 64-bit hash (FNV-1a) of a digest text; statistics are keyed by it. Never 0.
uint64_t DigestHash(std::string_view digest_text);

}  // namespace sluice::routing
