# SQL lexer, classifier and digest fuzz targets (routing/ is pure: no I/O, no re2 here).
# Their seed corpus is kept in tests/fuzz/corpus/sql.
sluice_fuzz_target(routing_lexer_fuzz SEED corpus/sql SOURCES routing/sql_lexer.cc)
sluice_fuzz_target(routing_classifier_fuzz SEED corpus/sql SOURCES
  routing/sql_lexer.cc routing/keywords.cc routing/classifier.cc)
sluice_fuzz_target(routing_digest_fuzz SEED corpus/sql SOURCES
  routing/sql_lexer.cc routing/keywords.cc routing/digest.cc)
