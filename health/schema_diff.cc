#include "health/schema_diff.h"

#include <fmt/format.h>

namespace sluice::health {
namespace {

void Hash(uint64_t* h, const std::string& s) {
  for (unsigned char c : s) {
    *h ^= c;
    *h *= 1099511628211ull;
  }
  *h ^= 0xff;  // a separator no text byte sequence can imitate alone
  *h *= 1099511628211ull;
}

// Added, dropped and changed entries of one kind of a table's parts.
void DiffParts(const std::string& table, const char* what,
               const std::map<std::string, std::string>& before,
               const std::map<std::string, std::string>& after, const char* changed_verb,
               bool show_old, std::vector<std::string>* out) {
  for (const auto& [name, def] : after) {
    auto it = before.find(name);
    if (it == before.end()) {
      out->push_back(fmt::format("{} added: {}.{} ({})", what, table, name, def));
    } else if (it->second != def) {
      out->push_back(show_old
                         ? fmt::format("{} {}: {}.{}: {} -> {}", what, changed_verb, table, name,
                                       it->second, def)
                         : fmt::format("{} {}: {}.{} ({})", what, changed_verb, table, name, def));
    }
  }
  for (const auto& [name, def] : before)
    if (!after.count(name)) out->push_back(fmt::format("{} dropped: {}.{}", what, table, name));
}

}  // namespace

std::map<std::string, SchemaShape> BuildShapes(const std::vector<CatalogRow>& rows) {
  std::map<std::string, SchemaShape> out;
  for (const CatalogRow& r : rows) {
    TableShape* t = nullptr;
    auto table = [&]() -> TableShape& { return out[r.schema][r.table]; };
    if (r.what == "table") {
      table().kind = r.definition;
    } else if (r.what == "column") {
      t = &table();
      t->columns[r.name] = r.definition;
    } else if (r.what == "index") {
      t = &table();
      t->indexes[r.name] = r.definition;
    } else if (r.what == "constraint") {
      t = &table();
      t->constraints[r.name] = r.definition;
    }
  }
  return out;
}

std::string Fingerprint(const SchemaShape& shape) {
  uint64_t h = 14695981039346656037ull;
  for (const auto& [name, t] : shape) {
    Hash(&h, "T" + name);
    Hash(&h, t.kind);
    for (const auto& [c, def] : t.columns) Hash(&h, "C" + c + "\x01" + def);
    for (const auto& [i, def] : t.indexes) Hash(&h, "I" + i + "\x01" + def);
    for (const auto& [k, def] : t.constraints) Hash(&h, "K" + k + "\x01" + def);
  }
  return fmt::format("{:016x}", h);
}

std::vector<std::string> DiffSchemas(const SchemaShape& before, const SchemaShape& after) {
  std::vector<std::string> out;
  for (const auto& [name, t] : after) {
    auto it = before.find(name);
    if (it == before.end()) {
      out.push_back(fmt::format("table added: {} ({} columns)", name, t.columns.size()));
      continue;
    }
    const TableShape& b = it->second;
    if (b.kind != t.kind)
      out.push_back(fmt::format("table changed: {}: {} -> {}", name, b.kind, t.kind));
    DiffParts(name, "column", b.columns, t.columns, "retyped", true, &out);
    DiffParts(name, "index", b.indexes, t.indexes, "changed", false, &out);
    DiffParts(name, "constraint", b.constraints, t.constraints, "changed", false, &out);
  }
  for (const auto& [name, t] : before)
    if (!after.count(name)) out.push_back(fmt::format("table dropped: {}", name));
  return out;
}

}  // namespace sluice::health
