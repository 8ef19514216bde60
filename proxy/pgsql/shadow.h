// PgShadow: the PostgreSQL wire of a shadow session (proxy/shadow_session.h): one connection
// of its own to the shadow server, logged in as the client's backend user to the client's
// database, its startup settings applied first; each segment (a Query with its COPY data, or
// the extended messages up to Sync) goes out as the client sent it, with the shadow's own
// statement names in transaction pooling (mirror_wire.h); the answer up to ReadyForQuery is
// read into an outcome and nothing of it is forwarded.
#pragma once

#include <string>

#include "proxy/pgsql/backend.h"
#include "proxy/pgsql/mirror_wire.h"
#include "proxy/shadow_conn.h"

namespace sluice::pgproxy {

class PgShadow final : public ShadowConn<PgBackend, PgBackendLogin> {
 public:
  // LOGIN has the client's user, password, database and application_name; the shadow
  // server's address is filled in here. MAP_NAMES: transaction pooling (the client's
  // statement names mean sluice's; session mode passes them as they are). SETUP_SQL, when
  // not empty, runs first (the client's startup settings). Connects at once.
  static PgShadow* Start(Worker* w, Params p, PgBackendLogin login, bool map_names,
                         std::string setup_sql);

  void OnBackendReadable(PgBackend* b) override;

 private:
  PgShadow(Worker* w, Params p, PgBackendLogin login, bool map_names)
      : ShadowConn(w, std::move(p), std::move(login)), map_names_(map_names) {}
  void Send(mirror::ShadowStatement& s) override;

  bool map_names_;
  bool waiting_ = false;    // a segment is out, its ReadyForQuery not yet in
  bool ordered_ = false;    // the segment's statement has ORDER BY
  bool copy_data_ = false;  // the segment carries COPY data (it ends in CopyDone/CopyFail)
  size_t skip_left_ = 0;    // bytes of a long message still to drop
  PgOutcomeTracker tracker_;
  ShadowStatementNames names_;
  ShadowParseErrors parse_errors_;  // why a prepared statement fails on the shadow
  std::string out_;                 // the segment as the shadow gets it (names mapped)
};

}  // namespace sluice::pgproxy
