#include "protocol/pgsql/options.h"

#include <cctype>

namespace sluice::pgsql {
namespace {

std::vector<std::string> SplitWords(std::string_view s) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i == s.size()) break;
    std::string w;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      w += s[i++];
    }
    words.push_back(std::move(w));
  }
  return words;
}

Status Setting(std::string_view arg, std::string_view shown,
               std::vector<std::pair<std::string, std::string>>* out) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return InvalidArgument(eq == 0 ? "invalid command-line argument for server process: " +
                                         std::string(shown)
                                   : "--" + std::string(arg) + " requires a value");
  }
  std::string name;
  for (char c : arg.substr(0, eq))
    name += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out->emplace_back(std::move(name), std::string(arg.substr(eq + 1)));
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseStartupOptions(
    std::string_view options) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> words = SplitWords(options);
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    Status st;
    if (w.substr(0, 2) == "--" && w.size() > 2) {
      st = Setting(w.substr(2), w, &out);
    } else if (w == "-c") {
      if (i + 1 == words.size())
        return InvalidArgument("invalid command-line argument for server process: -c");
      ++i;
      st = Setting(words[i], words[i], &out);
    } else if (w.substr(0, 2) == "-c") {
      st = Setting(w.substr(2), w, &out);
    } else {
      return InvalidArgument("invalid command-line argument for server process: " + std::string(w));
    }
    if (!st.ok()) return st;
  }
  return out;
}

}  // namespace sluice::pgsql
