// SASLprep (RFC 4013) of a SCRAM password, with PostgreSQL's fallback: the password
// SCRAM-SHA-256 hashes is the prepared string, or the raw bytes when preparation fails.
#pragma once

#include <string>
#include <string_view>

namespace sluice::pgsql {

// What PostgreSQL (pg_saslprep, used by CREATE ROLE … PASSWORD and by libpq) hashes for
// `password`: ASCII passwords unchanged; otherwise non-ASCII spaces mapped to SPACE, the
// "commonly mapped to nothing" characters (soft hyphen, zero-width joiners, …) removed, the
// result in Unicode NFKC form. Invalid UTF-8, prohibited characters (controls, private
// use, …), a failed bidirectional check or an empty result give the raw bytes back, as
// PostgreSQL does. Unassigned code points are allowed (a "query" string, as PostgreSQL
// treats it). Normalisation uses stringprep's Unicode 3.2 tables (GNU libidn), so a
// character assigned after Unicode 3.2 is passed through unnormalised.
std::string SaslPrepOrRaw(std::string_view password);

}  // namespace sluice::pgsql
