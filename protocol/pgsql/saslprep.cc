#include "protocol/pgsql/saslprep.h"

#include <stringprep.h>

#include <cstdlib>

namespace sluice::pgsql {

std::string SaslPrepOrRaw(std::string_view password) {
  bool ascii = true;
  for (unsigned char c : password) {
    if (c >= 0x80) ascii = false;
    if (c == 0) return std::string(password);  // not a C string: no PostgreSQL password
  }
  if (ascii) return std::string(password);
  std::string in(password);
  char* out = nullptr;
  // Flags 0: unassigned code points allowed; NFKC, the mapping tables, the prohibited
  // output and the bidi check of the SASLprep profile all apply.
  if (stringprep_profile(in.c_str(), &out, "SASLprep", Stringprep_profile_flags{}) !=
      STRINGPREP_OK) {
    std::free(out);
    return in;
  }
  std::string prepared(out);
  std::free(out);
  if (prepared.empty()) return in;
  return prepared;
}

}  // namespace sluice::pgsql
