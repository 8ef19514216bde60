// AdminService, the mirror's switch: MIRROR START <name> / MIRROR STOP <name>. The switch is
// the mirror's `enabled` in the runtime snapshot (and in the mirrors tables), so that a
// session logging in on any worker reads it from the snapshot it already has.
#include <fmt/format.h>

#include "admin/admin_service.h"
#include "admin/admin_tables.h"
#include "admin/runtime_validation.h"
#include "common/log.h"

namespace sluice {

Result<AdminResult> AdminService::MirrorSwitch(const std::string& name, bool on) {
  RuntimePtr cur = Current();
  if (!cur) return Unavailable("the data plane is not started yet");
  const char* verb = on ? "MIRROR START" : "MIRROR STOP";
  Runtime next = health_.config ? health_.config() : *cur;
  MirrorConfig* m = nullptr;
  for (MirrorConfig& c : next.mirrors)
    if (c.name == name) m = &c;
  if (!m)
    return NotFound(fmt::format("{}: no mirror named '{}' (see runtime_mirrors)", verb, name));
  std::string source = m->source;
  std::string fork_position;
  auto publish = [&](const std::string& at) -> Status {
    fork_position = at;
    m->enabled = on;
    next.version = cur->version + 1;
    SLUICE_RETURN_IF_ERROR(ValidateAdminRuntime(next));
    SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "", next, kGroupMirror));
    SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "runtime_", next, kGroupMirror));
    if (health_.publish)
      health_.publish(next);
    else
      runtime_->Publish(std::make_shared<const Runtime>(next));
    return Status::Ok();
  };
  std::string how = "mirroring is off; the shadow is left as it is";
  if (on && health_.mirror_fork) {
    auto r = health_.mirror_fork(*m, publish);
    if (!r.ok()) {
      events_->Append("MIRROR_START", source, "",
                      fmt::format("mirror {}: refused: {}", name, r.status().message()));
      return Status(r.status().code(), fmt::format("{} {}: {}", verb, name, r.status().message()));
    }
    how = *r;
  } else {
    SLUICE_RETURN_IF_ERROR(publish(""));
    if (on) how = "the shadow is independent: mirroring is on";
  }
  // The shadow's copy starts there (stats_mirror.fork_position); STOP leaves the shadow as it
  // is, and so the position of its copy.
  if (on) fork_positions_[name] = fork_position;
  // A fleet ([coordination]): every instance mirrors its own sessions, so the switch goes to
  // all of them as a config revision (MIRROR START itself runs on the leader only).
  if (health_.fleet_publish) {
    auto tables = ExportTablesLocked(kGroupMirror);
    Status st = tables.ok() ? health_.fleet_publish(*tables) : tables.status();
    if (!st.ok()) {
      events_->Append("FLEET_CONFIG_REJECTED", "", "",
                      fmt::format("{} {}: switched here but not published to the fleet: {}", verb,
                                  name, st.message()));
      how += "; not published to the fleet: " + st.message();
    } else {
      how += "; published to the fleet";
    }
  }
  std::string message = fmt::format("mirror {} ({} -> {}): {}", name, source, m->shadow, how);
  events_->Append(on ? "MIRROR_START" : "MIRROR_STOP", source, "", message);
  log::Info("{}", message);
  AdminResult out;
  out.has_rows = true;
  out.columns = {"message"};
  out.rows = {{message}};
  return out;
}

}  // namespace sluice
