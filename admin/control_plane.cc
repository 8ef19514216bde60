#include "admin/control_plane.h"

#include <fmt/format.h>

#include <chrono>

#include "common/log.h"

namespace sluice {

Result<std::unique_ptr<ControlPlane>> ControlPlane::Open(const Runtime& config) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  cp->config_ = config;
  ControlPlane* raw = cp.get();
  cp->events_.SetListener([raw](const Event& e) { raw->sinks_.Offer(e); });
  auto service = AdminService::Open(config, &cp->events_);
  if (!service.ok()) return service.status();
  cp->service_ = std::move(service).value();
  cp->mirror_report_.SetEventSink([raw](const std::string& mirror, const std::string& message) {
    raw->events_.Append("MIRROR_REGRESSION", mirror, "", message);
  });
  cp->service_->SetMirrorReport(&cp->mirror_report_);
  return cp;
}

Status ControlPlane::Start(RuntimeHolder* runtime, std::vector<StatsMailbox*> mailboxes) {
  stats_ = std::make_unique<StatsCollector>(std::move(mailboxes));
  stats_->SetRejectionSink([this](const RejectedStatement& r) {
    events_.Append("REJECTED", r.cluster, "",
                   fmt::format("user {}: {} -- {}", r.user, r.message, r.statement));
  });
  service_->Attach(runtime, stats_.get());
  runtime_ = runtime;
  ConfigureSinks();
  ConfigureMirrors();
  SLUICE_RETURN_IF_ERROR(service_->AddStatsTable(
      "stats_event_sinks",
      "name TEXT, url TEXT, format TEXT, queued INT, sent INT, dropped INT, rejected INT, "
      "failed_attempts INT, last_sent TEXT, last_error TEXT",
      [this] {
        std::vector<SqlRow> rows;
        for (const EventSinkStats& s : sinks_.Stats()) {
          auto n = [](uint64_t v) { return std::to_string(v); };
          rows.push_back(
              {s.name, s.url, s.format, n(s.queued), n(s.sent), n(s.dropped), n(s.rejected),
               n(s.failed_attempts),
               s.last_sent_unix_ms ? SqlValue(IsoTimeUtc(s.last_sent_unix_ms)) : std::nullopt,
               s.last_error});
        }
        return rows;
      }));
  poller_ = std::thread([this] { PollLoop(); });
  server_ = std::make_unique<AdminServer>(config_.admin, service_.get(), AdminProtocol::kMysql,
                                          &login_throttle_);
  if (Status s = server_->Start(); !s.ok()) return s;
  if (config_.admin.pg_listen_port != 0) {
    AdminSettings pg = config_.admin;
    pg.listen_path.clear();
    pg.listen_host = pg.pg_listen_host;
    pg.listen_port = pg.pg_listen_port;
    pg_server_ = std::make_unique<AdminServer>(pg, service_.get(), AdminProtocol::kPostgresql,
                                               &login_throttle_);
    if (Status s = pg_server_->Start(); !s.ok()) return s;
  }
  std::vector<MetricsSource> sources = metrics_sources_;
  sources.push_back([this] { return EventSinkFamilies(sinks_.Stats()); });
  sources.push_back([this] {
    mirror_report_.Poll();
    RuntimePtr rt = runtime_ ? runtime_->Load() : nullptr;
    return BuildMirrorFamilies(mirror_report_.Snapshot(), rt.get());
  });
  metrics_ = std::make_unique<MetricsExporter>(runtime, stats_.get(), &accepting_, failover_counts_,
                                               std::move(sources));
  if (cluster_clients_) metrics_->SetClusterClients(cluster_clients_);
  return metrics_->Start(config_.metrics);
}

void ControlPlane::ConfigureSinks() {
  if (!runtime_) return;
  RuntimePtr rt = runtime_->Load();
  if (!rt || rt->version == sinks_version_) return;
  sinks_version_ = rt->version;
  sinks_.Configure(rt->event_sinks);
}

// The report's settings of every [[mirror]] of the snapshot (a new mirror reports, empty,
// before its first outcome).
void ControlPlane::ConfigureMirrors() {
  if (!runtime_) return;
  RuntimePtr rt = runtime_->Load();
  if (!rt || rt->version == mirrors_version_) return;
  mirrors_version_ = rt->version;
  for (const MirrorConfig& m : rt->mirrors) {
    mirror::ReportSettings s;
    s.slower_ratio = m.slower_ratio;
    s.slower_min_us = static_cast<uint64_t>(m.slower_min_ms) * 1000;
    s.min_samples = static_cast<uint64_t>(m.min_samples);
    s.max_digests = static_cast<size_t>(m.max_digests);
    mirror_report_.SetSettings(m.name, s);
  }
}

void ControlPlane::PollLoop() {
  log::SetThreadName("stats");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1));
    if (stop_) break;
    lock.unlock();
    stats_->Poll();
    ConfigureSinks();  // after LOAD EVENT SINKS TO RUNTIME: within a second
    ConfigureMirrors();
    mirror_report_.Poll();
    lock.lock();
  }
}

void ControlPlane::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  if (server_) server_->Stop();
  if (pg_server_) pg_server_->Stop();
  metrics_.reset();
  sinks_.Stop();
}

}  // namespace sluice
