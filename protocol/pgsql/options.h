// The StartupMessage's `options` (libpq PGOPTIONS, JDBC options): command-line switches for
// the server process, of which a client may use the setting ones. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::pgsql {

// Reads the settings in options as the server does: words are separated by whitespace and
// a backslash takes the next character as it is (so "\ " is a space inside a word); a
// setting is "-c name=value", "-cname=value" or "--name=value", and '-' in a name reads
// as '_'. Names come back lower-case. Any other switch, or a setting without '=', is an
// InvalidArgument naming it (the server's FATAL "invalid command-line argument").
Result<std::vector<std::pair<std::string, std::string>>> ParseStartupOptions(
    std::string_view options);

}  // namespace sluice::pgsql
