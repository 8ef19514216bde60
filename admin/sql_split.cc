#include "admin/sql_split.h"

#include <cctype>

namespace sluice {
namespace {

bool IsSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Skips a comment starting at I; returns the position after it, or I when there is none.
size_t SkipComment(std::string_view s, size_t i) {
  if (s.compare(i, 2, "--") == 0) {
    size_t e = s.find('\n', i);
    return e == std::string_view::npos ? s.size() : e + 1;
  }
  if (s.compare(i, 2, "/*") == 0) {
    size_t e = s.find("*/", i + 2);
    return e == std::string_view::npos ? s.size() : e + 2;
  }
  return i;
}

// Skips a quoted run starting at I (s[i] is the opening quote); returns the position after it.
size_t SkipQuoted(std::string_view s, size_t i) {
  char close = s[i] == '[' ? ']' : s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] != close) continue;
    if (close != ']' && j + 1 < s.size() && s[j + 1] == close) {
      ++j;  // a doubled quote stands for itself
      continue;
    }
    return j + 1;
  }
  return s.size();
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::vector<std::string> SplitStatements(std::string_view sql) {
  std::vector<std::string> out;
  size_t start = 0;
  bool code = false;  // the current statement has something besides space and comments
  size_t i = 0;
  auto finish = [&](size_t end) {
    if (code) out.push_back(Trim(sql.substr(start, end - start)));
    code = false;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (size_t after = SkipComment(sql, i); after != i) {
      i = after;
    } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
      i = SkipQuoted(sql, i);
      code = true;
    } else if (c == ';') {
      finish(i);
      start = ++i;
    } else {
      if (!IsSpace(c)) code = true;
      ++i;
    }
  }
  finish(sql.size());
  return out;
}

std::string FirstWord(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (IsSpace(sql[i])) {
      ++i;
    } else if (size_t after = SkipComment(sql, i); after != i) {
      i = after;
    } else {
      break;
    }
  }
  std::string w;
  while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_'))
    w += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
  return w;
}

}  // namespace sluice
