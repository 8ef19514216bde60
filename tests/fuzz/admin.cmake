# The admin port's statement splitter (admin/sql_split.cc has no dependencies).
sluice_fuzz_target(admin_sql_split_fuzz SEED corpus/sql SOURCES admin/sql_split.cc)
