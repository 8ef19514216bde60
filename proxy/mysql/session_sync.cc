// MysqlSession, part two: bringing a pooled backend connection in line with the client
// (schema, SET NAMES, variables, the prepared statements an execute needs) and sending the
// client's command with the backend's own statement ids.
#include "common/clock.h"
#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/mysql/session.h"
#include "proxy/worker.h"
#include "routing/digest.h"

namespace sluice::mysqlproxy {

// Causal reads: a connection a positioned session writes on reports last_gtid in its OK
// packets (MariaDB; the client must have asked for session tracking, or the OK carries no
// state); a causal read on a replica checks the position there before it runs.
void MysqlSession::PlanCausalSteps(MysqlBackend* b) {
  if (cluster().consistency != Consistency::kEventual && !b->tracks_gtid &&
      (caps_ & mysql::CLIENT_SESSION_TRACK) &&
      b->server_version().find("MariaDB") != std::string::npos)
    cur().sync_steps.push_back(
        SyncStep{SyncStep::kTrackGtid,
                 "SET SESSION session_track_system_variables = "
                 "CONCAT(@@session.session_track_system_variables, ',last_gtid')"});
  if (cur().causal_check) {
    cur().sync_steps.push_back(
        SyncStep{SyncStep::kCausalCheck,
                 routing::MariadbCausalCheck(causal().target(), cluster().consistency_wait_ms)});
  }
}

// A row of the causal check's answer: MASTER_GTID_WAIT() says 0 when the replica has it.
void MysqlSession::NoteCausalRow(const mysql::PacketView& pkt) {
  // Column count, column definition, (EOF unless DEPRECATE_EOF), the row.
  size_t row_index = (backend_->caps() & mysql::CLIENT_DEPRECATE_EOF) ? 2 : 3;
  if (cur().sync_packets != row_index + 1) return;
  mysql::Reader r(pkt.payload);
  std::string_view value;
  cur().causal_found = r.ReadLenEncString(&value) && value == "0";
}

// The causal check answered: the read runs here, or on the primary.
void MysqlSession::EndCausalCheck() {
  lease_.CountCausalCheck(true, cur().causal_found,
                          static_cast<uint64_t>(MonotonicUs() - cur().causal_check_start_us));
  cur().causal_check = false;
  if (cur().causal_found) {
    causal().Confirm(lease_.server_index(), worker_->runtime().Current()->version);
    ++cur().sync_index;
    RunNextSyncStep();
    return;
  }
  ReleaseBackend(true);
  cur().cmd.causal_failed = true;
  phase_ = Phase::kAcquiring;
  RouteAndAcquire();
}

void MysqlSession::RunNextSyncStep() {
  cur().sync_prepare = false;
  if (cur().sync_index < cur().sync_steps.size()) {
    const SyncStep& step = cur().sync_steps[cur().sync_index];
    std::string payload;
    payload.push_back(
        static_cast<char>(step.kind == SyncStep::kInitDb ? mysql::COM_INIT_DB : mysql::COM_QUERY));
    payload += step.text;
    uint8_t seq = 0;
    cur().tracker.Begin(static_cast<uint8_t>(payload[0]), backend_->caps());
    cur().sync_packets = 0;
    if (step.kind == SyncStep::kCausalCheck) {
      cur().causal_found = false;
      cur().causal_check_start_us = MonotonicUs();
    }
    WritePacket(backend_->output(), &seq, payload);
    return;
  }
  // A statement to execute must exist on this backend connection: prepare it first.
  if (cur().cmd.stmt) {  // COM_STMT_EXECUTE, _SEND_LONG_DATA, _RESET, _FETCH
    const ClientStmt& cs = *cur().cmd.stmt;
    if (!backend_->stmts().Find(cs.text)) {
      cur().sync_prepare = true;
      std::string payload;
      payload.push_back(static_cast<char>(mysql::COM_STMT_PREPARE));
      payload += cs.text;
      uint8_t seq = 0;
      cur().tracker.Begin(mysql::COM_STMT_PREPARE, backend_->caps());
      cur().sync_packets = 0;
      WritePacket(backend_->output(), &seq, payload);
      return;
    }
  }
  if (cur().cmd.internal_check) {
    // The login's schema check passed; under session pooling the connection stays.
    SendOk(seq_);
    if (!LoginDone()) return;
    if (session_mode_)
      bound_ = true;
    else
      ReleaseBackend(true);
    phase_ = Phase::kIdle;
    ProcessClientInput();
    return;
  }
  SendClientCommand();
}

void MysqlSession::SendClientCommand() {
  phase_ = Phase::kForwarding;
  if (mysql::CommandExpectsResponse(cur().cmd.code)) {
    cur().tracker.Begin(cur().cmd.code, backend_->caps());
    cur().framing.Begin();
  }
  if (cur().cmd.stmt) {
    ClientStmt& cs = *cur().cmd.stmt;
    BackendStmt* bs = backend_->stmts().Find(cs.text);
    bool send_types = cur().cmd.code == mysql::COM_STMT_EXECUTE && !bs->types_sent;
    WriteStmtCommand(bs->id, send_types);
    if (send_types && !cs.param_types.empty()) bs->types_sent = true;
  } else {
    uint8_t seq = 0;
    WritePacket(backend_->output(), &seq, cur().cmd.payload);
  }
  if (!mysql::CommandExpectsResponse(cur().cmd.code)) {
    // COM_STMT_SEND_LONG_DATA: no response. It pins until the EXECUTE that uses it.
    MirrorLocal(cur().cmd.payload, cur().cmd.client_stmt_id, false);
    pins_.long_data = true;
    phase_ = Phase::kIdle;
    ProcessClientInput();
  }
}

void MysqlSession::WriteStmtCommand(uint32_t backend_id, bool send_types) {
  const ClientStmt& cs = *cur().cmd.stmt;
  uint8_t seq = 0;
  if (send_types && !cs.param_types.empty() && cs.num_params > 0) {
    // The first execute on this connection carries the types the client sent once.
    auto built = mysql::BuildExecuteWithTypes(mysql::AsBytes(cur().cmd.payload), cs.num_params,
                                              cs.param_types);
    if (built.ok()) {
      WriteStmtPacket(backend_->output(), &seq, *built, backend_id);
      return;
    }
  }
  // The client's bytes, framed with the backend's statement id: no copy per statement.
  WriteStmtPacket(backend_->output(), &seq, cur().cmd.payload, backend_id);
}

void MysqlSession::HandleSyncResponse() {
  mysql::PacketView pkt;
  size_t wire = 0;
  while (phase_ == Phase::kSyncing && PeekPacket(backend_->input(), &pkt, &wire)) {
    bool first = cur().sync_packets++ == 0;
    if (cur().sync_prepare && first && !pkt.payload.empty() && pkt.payload[0] == mysql::kOkHeader) {
      auto ok = mysql::DecodePrepareOk(pkt.payload);
      if (ok.ok()) {
        const ClientStmt& cs = *cur().cmd.stmt;
        CloseBackendStmt(backend_->stmts().Insert(cs.text, BackendStmt{ok->statement_id, false}));
      }
    }
    const SyncStep::Kind kind = cur().sync_index < cur().sync_steps.size()
                                    ? cur().sync_steps[cur().sync_index].kind
                                    : SyncStep::kQuery;
    if (!cur().sync_prepare && kind == SyncStep::kCausalCheck) NoteCausalRow(pkt);
    auto r = cur().tracker.Feed(pkt);
    evbuffer_drain(backend_->input(), wire);
    if (r == mysql::TrackStatus::kError) {
      OnBackendError(backend_, ProtocolError("malformed response to a sync command"));
      return;
    }
    if (r != mysql::TrackStatus::kDone) continue;
    if (!cur().sync_prepare && kind == SyncStep::kCausalCheck) {
      if (cur().tracker.ended_in_error()) cur().causal_found = false;  // not a replica after all
      EndCausalCheck();
      return;
    }
    if (!cur().sync_prepare && kind == SyncStep::kTrackGtid) {
      // Refused (an old server): its writes' positions stay unknown.
      backend_->tracks_gtid = !cur().tracker.ended_in_error();
      ++cur().sync_index;
      RunNextSyncStep();
      return;
    }
    if (cur().tracker.ended_in_error()) {
      // The backend refused the sync (e.g. unknown schema): the client gets that error.
      const mysql::ErrPacket& e = cur().tracker.error();
      SyncStep failed = cur().sync_index < cur().sync_steps.size()
                            ? cur().sync_steps[cur().sync_index]
                            : SyncStep{};
      if (failed.kind == SyncStep::kInitDb) want_.schema = backend_->state().schema;
      ReleaseBackend(true);
      FailCommand(mysql::ErrorInfo{e.code, e.sql_state.c_str(), ""}, e.message);
      return;
    }
    if (!cur().sync_prepare) {
      const SyncStep& st = cur().sync_steps[cur().sync_index];
      if (st.kind == SyncStep::kInitDb)
        backend_->state().schema = st.text;
      else
        backend_->state().vars = want_.vars;
      ++cur().sync_index;
    }
    RunNextSyncStep();
    return;
  }
}

void MysqlSession::ApplyPrepareOk(std::string* payload) {
  auto ok = mysql::DecodePrepareOk(mysql::AsBytes(*payload));
  if (!ok.ok()) return;
  uint32_t client_id = next_stmt_id_++;
  ClientStmt cs;
  cs.text = cur().cmd.payload.substr(1);
  cs.num_params = ok->num_params;
  cs.num_columns = ok->num_columns;
  cs.info = ClassifyStatement(cs.text, routing::Dialect::kMysql);
  routing::Digest(cs.text, routing::Dialect::kMysql, &cs.digest);
  cs.digest_hash = routing::DigestHash(cs.digest);
  // The connection may hold this text already (another client prepared it here) and the
  // cache may be full: the displaced statements are closed, or the server keeps them
  // until max_prepared_stmt_count refuses every client.
  const BackendStmt* had = backend_->stmts().Find(cs.text);
  uint32_t replaced = had ? had->id : 0;
  uint32_t evicted = backend_->stmts().Insert(cs.text, BackendStmt{ok->statement_id, false});
  CloseBackendStmt(replaced);
  CloseBackendStmt(evicted);
  AddStatement(client_id, std::move(cs));
  last_prepared_id_ = client_id;
  mysql::RewriteStatementId(payload, client_id);
}

// COM_STMT_CLOSE for a statement of the current backend connection (0: nothing). It has no
// response, so it can follow the command in flight.
void MysqlSession::CloseBackendStmt(uint32_t backend_id) {
  if (backend_id == 0) return;
  std::string close{static_cast<char>(mysql::COM_STMT_CLOSE)};
  close.append(4, '\0');
  mysql::RewriteStatementId(&close, backend_id);
  uint8_t seq = 0;
  WritePacket(backend_->output(), &seq, close);
}

}  // namespace sluice::mysqlproxy
