# MySQL/MariaDB codec fuzz target (protocol/mysql has no I/O; auth needs libcrypto only).
sluice_fuzz_target(mysql_codec_fuzz SEED corpus/mysql_codec SOURCES
  protocol/mysql/packet.cc
  protocol/mysql/wire.cc
  protocol/mysql/messages.cc
  protocol/mysql/handshake.cc
  protocol/mysql/statement.cc
  protocol/mysql/response.cc
  protocol/mysql/auth.cc)
