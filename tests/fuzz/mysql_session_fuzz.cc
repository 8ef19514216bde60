// libFuzzer target for the MySQL session's client side: a login (the driver's or the input's
// own) and then the client's bytes split into reads, against a scripted backend.
#include <cstddef>
#include <cstdint>

#include "common/log.h"
#include "tests/fuzz/mysql_session_driver.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sluice::log::SetLevel(sluice::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::RunMysqlSession(data, size);
  return 0;
}
