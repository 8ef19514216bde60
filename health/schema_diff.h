// schema_diff: a schema's definitions as the catalogs list them (tables, columns with their
// types, indexes, constraints), a fingerprint of them, and the differences between two
// takes. Pure: no I/O (health/schema_watch.* reads the catalogs).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::health {

struct TableShape {
  std::string kind;                                // "BASE TABLE", "VIEW", "r", "v", ...
  std::map<std::string, std::string> columns;      // name -> type and attributes
  std::map<std::string, std::string> indexes;      // name -> definition
  std::map<std::string, std::string> constraints;  // name -> definition
};

// One schema (MariaDB: a database; PostgreSQL: database.namespace), tables by name.
using SchemaShape = std::map<std::string, TableShape>;

// One catalog row: what ("table", "column", "index", "constraint"), where, its definition.
// For "table" rows NAME is empty and DEFINITION is the table's kind.
struct CatalogRow {
  std::string what;
  std::string schema;
  std::string table;
  std::string name;
  std::string definition;
};

// Groups ROWS by schema. Rows of an unknown WHAT are ignored.
std::map<std::string, SchemaShape> BuildShapes(const std::vector<CatalogRow>& rows);

// 64-bit FNV-1a over the canonical (sorted) text of SHAPE, as 16 hex digits.
std::string Fingerprint(const SchemaShape& shape);

// What changed from BEFORE to AFTER, one line each, in table order:
// "table added: t", "table dropped: t", "column added: t.c (int)", "column dropped: t.c",
// "column retyped: t.c: int -> bigint", "index added: t.i (...)", "index dropped: t.i",
// "index changed: t.i", "constraint added|dropped|changed: t.k".
std::vector<std::string> DiffSchemas(const SchemaShape& before, const SchemaShape& after);

}  // namespace sluice::health
