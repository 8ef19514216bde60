// config_file: turns a sluice TOML config file into a validated Runtime snapshot.
// Every error is one line, "FILE:LINE: key: what is wrong"; docs/configuration.md is the schema.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

// Reads and validates the file at PATH. A file that cannot be read gives
// "PATH:0: -: cannot read: <strerror>"; a TOML syntax error gives "PATH:LINE: -: <description>".
Result<Runtime> LoadConfigFile(const std::string& path);

// Validates TEXT as the contents of a config file; PATH_FOR_ERRORS is only used in messages.
// Keys are named by their dotted path with array indexes: "cluster[0].server[1].port".
Result<Runtime> ParseConfig(std::string_view text, const std::string& path_for_errors);

}  // namespace sluice
