#include "admin/control_plane.h"

#include <fmt/format.h>

#include <chrono>

#include "common/log.h"

namespace sluice {

Result<std::unique_ptr<ControlPlane>> ControlPlane::Open(const Runtime& config) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  cp->config_ = config;
  auto service = AdminService::Open(config, &cp->events_);
  if (!service.ok()) return service.status();
  cp->service_ = std::move(service).value();
  return cp;
}

Status ControlPlane::Start(RuntimeHolder* runtime, std::vector<StatsMailbox*> mailboxes) {
  stats_ = std::make_unique<StatsCollector>(std::move(mailboxes));
  stats_->SetRejectionSink([this](const RejectedStatement& r) {
    events_.Append("REJECTED", r.cluster, "",
                   fmt::format("user {}: {} -- {}", r.user, r.message, r.statement));
  });
  service_->Attach(runtime, stats_.get());
  poller_ = std::thread([this] { PollLoop(); });
  server_ = std::make_unique<AdminServer>(config_.admin, service_.get());
  if (Status s = server_->Start(); !s.ok()) return s;
  metrics_ = std::make_unique<MetricsExporter>(runtime, stats_.get());
  SLUICE_RETURN_IF_ERROR(metrics_->Start(config_.metrics));
  for (const auto& c : extra_metrics_) metrics_->Register(c);
  return Status::Ok();
}

void ControlPlane::PollLoop() {
  log::SetThreadName("stats");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1));
    if (stop_) break;
    lock.unlock();
    stats_->Poll();
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
  metrics_.reset();
}

}  // namespace sluice
