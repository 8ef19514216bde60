// libFuzzer target for the PostgreSQL session's client side: pre-auth bytes or the driver's
// SCRAM/MD5 login, then the client's messages split into reads, against a scripted backend.
#include <cstddef>
#include <cstdint>

#include "common/log.h"
#include "tests/fuzz/pgsql_session_driver.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sluice::log::SetLevel(sluice::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::RunPgsqlSession(data, size);
  return 0;
}
