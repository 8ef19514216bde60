// SplitStatements: cuts an admin query text (SQLite's syntax) into its statements at the
// semicolons outside quotes and comments, so the admin port can run exactly one statement
// per query unless the client asked for CLIENT_MULTI_STATEMENTS.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// The statements of SQL, each trimmed of surrounding space; empty statements (";;", a
// trailing ";", a text of comments only) are dropped. Quotes: '..' (with ''), "..", `..`,
// [..]; comments: -- to the end of the line, /* .. */. An unterminated quote or comment
// runs to the end of the text (SQLite then reports the syntax error).
std::vector<std::string> SplitStatements(std::string_view sql);

// The first word of SQL after space and comments, upper-cased ("" when there is none).
std::string FirstWord(std::string_view sql);

}  // namespace sluice
