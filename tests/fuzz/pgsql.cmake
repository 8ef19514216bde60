# libFuzzer target for the PostgreSQL codec (protocol/pgsql): startup packets, message
# framing, every decoder and rewrite, and SCRAM parsing of attacker-chosen messages.
sluice_fuzz_target(pgsql_codec_fuzz SEED corpus/pgsql_codec SOURCES
  protocol/pgsql/message.cc
  protocol/pgsql/startup.cc
  protocol/pgsql/frontend.cc
  protocol/pgsql/backend.cc
  protocol/pgsql/scram.cc
  protocol/pgsql/saslprep.cc
  protocol/pgsql/md5.cc)
