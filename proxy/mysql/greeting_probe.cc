#include "proxy/mysql/greeting_probe.h"

#include <fmt/format.h>

#include "protocol/mysql/handshake.h"
#include "protocol/mysql/messages.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {
// A greeting is well under 1 KiB; more than this unread is not a greeting.
constexpr size_t kMaxGreetingBytes = 16 * 1024;
}  // namespace

GreetingProbe::GreetingProbe(Worker* w, const Server& server, int timeout_ms, Done done)
    : server_(server.name()), done_(std::move(done)) {
  socket_.Connect(w->base(), w->dialer(), ConnectAddress(server.host, server.address, server.port),
                  timeout_ms, kMaxGreetingBytes);
}

void GreetingProbe::OnSocketReadable() {
  if (finished_) return;
  mysql::PacketView pkt;
  size_t wire = 0;
  if (!PeekPacket(socket_.input(), &pkt, &wire)) {
    if (evbuffer_get_length(socket_.input()) >= kMaxGreetingBytes)
      Finish(ProtocolError(fmt::format("{}: no greeting in {} bytes", server_, kMaxGreetingBytes)));
    return;
  }
  if (!pkt.payload.empty() && pkt.payload[0] == mysql::kErrHeader) {
    auto err = mysql::DecodeErr(pkt.payload, mysql::CLIENT_PROTOCOL_41);
    Finish(Unavailable(fmt::format("{} refused the connection: {}", server_,
                                   err.ok() ? err->message : "malformed error")));
    return;
  }
  auto hs = mysql::DecodeInitialHandshake(pkt.payload);
  if (!hs.ok()) {
    Finish(ProtocolError(fmt::format("{}: {}", server_, hs.status().message())));
    return;
  }
  Finish(BackendGreeting{hs->server_version, hs->capabilities, hs->status_flags, hs->charset});
}

void GreetingProbe::OnSocketFailed(const std::string& why) {
  Finish(Unavailable(fmt::format("{}: {}", server_, why)));
}

void GreetingProbe::Finish(Result<BackendGreeting> r) {
  if (finished_) return;
  finished_ = true;
  socket_.Disable();
  Done done = std::move(done_);  // the callback may delete this probe
  done(std::move(r));
}

}  // namespace sluice::mysqlproxy
