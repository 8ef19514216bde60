// Reading one TOML table of a config file so that every error names file, line and dotted
// key ("sluice.toml:12: cluster[0].weight: expected integer, got string"); config_file.cc's schema.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "admin/runtime_validation.h"
#include "common/host_port.h"
#include "common/status.h"

namespace sluice::config {

enum class Need { kOptional, kRequired };

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

inline const char* TypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
  }
  return "?";
}

inline int64_t LineOf(const toml::node& n) {
  return n.source().begin.line;
}

inline Status ErrorAt(const std::string& file, int64_t line, std::string_view key,
                      std::string_view what) {
  return InvalidArgument(fmt::format("{}:{}: {}: {}", file, line, key, what));
}

// One TOML table being read: knows its dotted path, so every error can name the key.
class TableReader {
 public:
  TableReader(const std::string* file, const toml::table* table, std::string path)
      : TableReader(file, table, std::move(path), LineOf(*table)) {}
  // For a section the file leaves out: errors point at LINE, the table that lacks it.
  TableReader(const std::string* file, const toml::table* table, std::string path, int64_t line)
      : file_(file), table_(table), path_(std::move(path)), line_(line) {}

  std::string Key(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  const std::string& path() const { return path_; }
  int64_t line() const { return line_; }
  const toml::node* Get(std::string_view key) const { return table_->get(key); }
  // The line of KEY's value, or of this table when KEY was left at its default.
  int64_t LineOfKey(std::string_view key) const {
    const toml::node* n = Get(key);
    return n ? LineOf(*n) : line();
  }

  Status Error(int64_t line, std::string_view key, std::string_view what) const {
    return ErrorAt(*file_, line, Key(key), what);
  }
  Status ErrorAtKey(std::string_view key, std::string_view what) const {
    return Error(LineOfKey(key), key, what);
  }
  Status Missing(std::string_view key) const { return Error(line(), key, "missing required key"); }

  // Unknown keys are checked before anything else: a typo must read as a typo, not as the
  // missing key it was meant to be. The first stray key in file order is reported.
  Status CheckKeys(std::initializer_list<std::string_view> allowed) const {
    const toml::key* stray = nullptr;
    for (auto&& [k, v] : *table_) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      if (!stray || k.source().begin.line < stray->source().begin.line) stray = &k;
    }
    if (!stray) return Status::Ok();
    return Error(stray->source().begin.line, stray->str(), "unknown key");
  }

  Status String(std::string_view key, Need need, std::string* out) const {
    const toml::node* n = Get(key);
    if (!n) return need == Need::kRequired ? Missing(key) : Status::Ok();
    if (!n->is_string()) return WrongType(key, *n, "string");
    *out = n->as_string()->get();
    return Status::Ok();
  }

  Status NonEmptyString(std::string_view key, Need need, std::string* out) const {
    Status s = String(key, need, out);
    if (s.ok() && Get(key) && out->empty()) return ErrorAtKey(key, "expected a non-empty string");
    return s;
  }

  Status Bool(std::string_view key, bool* out) const {
    const toml::node* n = Get(key);
    if (!n) return Status::Ok();
    if (!n->is_boolean()) return WrongType(key, *n, "boolean");
    *out = n->as_boolean()->get();
    return Status::Ok();
  }

  template <typename T>
  Status Int(std::string_view key, Need need, Limit limit, T* out) const {
    const toml::node* n = Get(key);
    if (!n) return need == Need::kRequired ? Missing(key) : Status::Ok();
    if (!n->is_integer()) return WrongType(key, *n, "integer");
    int64_t v = n->as_integer()->get();
    if (std::string what = CheckLimit(limit, v); !what.empty()) return ErrorAtKey(key, what);
    *out = static_cast<T>(v);
    return Status::Ok();
  }

  // A float; an integer is taken too (exposure = 1).
  Status Float(std::string_view key, double* out) const {
    const toml::node* n = Get(key);
    if (!n) return Status::Ok();
    if (n->is_floating_point())
      *out = n->as_floating_point()->get();
    else if (n->is_integer())
      *out = static_cast<double>(n->as_integer()->get());
    else
      return WrongType(key, *n, "float");
    return Status::Ok();
  }

  template <typename E, size_t N>
  Status Enum(std::string_view key, Need need, const EnumName<E> (&names)[N], E* out) const {
    std::string name;
    Status s = String(key, need, &name);
    if (!s.ok() || !Get(key)) return s;
    for (const auto& e : names) {
      if (e.name == name) {
        *out = e.value;
        return Status::Ok();
      }
    }
    std::string choices;
    for (const auto& e : names) choices += fmt::format("{}{}", choices.empty() ? "" : "|", e.name);
    return ErrorAtKey(key, fmt::format("expected one of {}, got \"{}\"", choices, name));
  }

  Status HostPort(std::string_view key, Need need, std::string* host, uint16_t* port) const {
    std::string text;
    Status s = String(key, need, &text);
    if (!s.ok() || !Get(key)) return s;
    if (!ParseHostPort(text, host, port)) return BadListen(key, text);
    return Status::Ok();
  }

  Status BadListen(std::string_view key, std::string_view text) const {
    return ErrorAtKey(key,
                      fmt::format("expected \"host:port\" with port 1..65535, got \"{}\"", text));
  }

  // A sub-table such as [admin]; absent leaves *OUT null.
  Status Table(std::string_view key, const toml::table** out) const {
    *out = nullptr;
    const toml::node* n = Get(key);
    if (!n) return Status::Ok();
    if (!n->is_table()) return WrongType(key, *n, "table");
    *out = n->as_table();
    return Status::Ok();
  }

  // The tables of an array such as [[cluster]], each named "cluster[i]"; absent is empty.
  Status Tables(std::string_view key, std::vector<TableReader>* out) const {
    const toml::node* n = Get(key);
    if (!n) return Status::Ok();
    if (!n->is_array()) {
      return ErrorAtKey(
          key, fmt::format("expected array of tables ([[{}]]), got {}", key, TypeName(n->type())));
    }
    const toml::array& a = *n->as_array();
    for (size_t i = 0; i < a.size(); ++i) {
      std::string path = fmt::format("{}[{}]", Key(key), i);
      if (!a[i].is_table()) {
        return ErrorAt(*file_, LineOf(a[i]), path,
                       fmt::format("expected table, got {}", TypeName(a[i].type())));
      }
      out->emplace_back(file_, a[i].as_table(), std::move(path));
    }
    return Status::Ok();
  }

 private:
  Status WrongType(std::string_view key, const toml::node& n, std::string_view want) const {
    return Error(LineOf(n), key, fmt::format("expected {}, got {}", want, TypeName(n.type())));
  }

  const std::string* file_;
  const toml::table* table_;
  std::string path_;
  int64_t line_;
};

// The first failed status of STEPS. Every step has already run, left to right (a braced list
// is evaluated in order), so no step may depend on an earlier one having succeeded.
inline Status FirstError(std::initializer_list<Status> steps) {
  for (const Status& s : steps)
    if (!s.ok()) return s;
  return Status::Ok();
}

}  // namespace sluice::config
