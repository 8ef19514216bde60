#include "admin/event_sink.h"

#include <curl/curl.h>
#include <time.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.h"

namespace sluice {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A JSON string literal (RFC 8259: quote, backslash and control characters escaped).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += ch;
    }
  }
  return out + "\"";
}

// Slack's mrkdwn treats &, < and > as control characters; everything else passes as text.
std::string SlackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) {
  return size * n;
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

bool EventKindMatches(const std::vector<std::string>& kinds, std::string_view kind) {
  if (kinds.empty()) return true;
  for (const std::string& k : kinds) {
    if (!k.empty() && k.back() == '*') {
      if (kind.substr(0, k.size() - 1) == std::string_view(k).substr(0, k.size() - 1)) return true;
    } else if (k == kind) {
      return true;
    }
  }
  return false;
}

std::string IsoTimeUtc(int64_t unix_ms) {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(unix_ms % 1000));
}

std::string FormatEvent(const Event& e, std::string_view format) {
  std::string time = IsoTimeUtc(e.time_unix_ms);
  if (format == "slack") {
    std::string text = fmt::format("[sluice] *{}* cluster `{}`", e.kind,
                                   e.cluster.empty() ? "-" : SlackEscape(e.cluster));
    if (!e.server.empty()) text += fmt::format(" node `{}`", SlackEscape(e.server));
    text += fmt::format(": {} ({})", SlackEscape(e.message), time);
    return fmt::format("{{\"text\":{}}}", JsonString(text));
  }
  return fmt::format(
      "{{\"source\":\"sluice\",\"kind\":{},\"cluster\":{},\"node\":{},\"reason\":{},"
      "\"time\":{},\"time_unix_ms\":{}}}",
      JsonString(e.kind), JsonString(e.cluster), JsonString(e.server), JsonString(e.message),
      JsonString(time), e.time_unix_ms);
}

// One endpoint: a bounded queue and the thread that empties it, in order, one POST per event.
// A failed POST is retried (the event stays in hand) after a backoff that doubles up to
// retry_max_backoff_ms; meanwhile new events queue and, past queue_size, push out the oldest.
class EventSinks::Sink {
 public:
  explicit Sink(EventSinkConfig c) : config_(std::move(c)) {
    stats_.name = config_.name;
    stats_.url = config_.url;
    stats_.format = config_.format;
    InitCurlOnce();
    thread_ = std::thread([this] { Loop(); });
  }
  ~Sink() { Stop(); }

  const EventSinkConfig& config() const { return config_; }

  void Offer(const Event& e) {
    if (!EventKindMatches(config_.kinds, e.kind)) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (queue_.size() >= static_cast<size_t>(std::max(config_.queue_size, 1))) {
        queue_.pop_front();
        ++stats_.dropped;
      }
      queue_.push_back(e);
    }
    cv_.notify_one();
  }

  EventSinkStats Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    EventSinkStats s = stats_;
    s.queued = queue_.size() + (in_flight_ ? 1 : 0);
    return s;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class Outcome { kSent, kRejected, kFailed };

  Outcome Post(CURL* curl, const std::string& body, std::string* error) {
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
      *error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      return Outcome::kFailed;
    }
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return Outcome::kSent;
    *error = fmt::format("HTTP {}", code);
    // A request the endpoint will never take (bad token, bad payload) is not retried; a
    // timeout or rate limit (408, 429) and server errors are.
    if (code >= 400 && code < 500 && code != 408 && code != 429) return Outcome::kRejected;
    return Outcome::kFailed;
  }

  void Loop() {
    log::SetThreadName("sink-" + config_.name);
    CURL* curl = curl_easy_init();
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");
    int backoff = config_.retry_backoff_ms;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) break;
      Event e = std::move(queue_.front());
      queue_.pop_front();
      in_flight_ = true;
      std::string body = FormatEvent(e, config_.format);
      while (!stop_) {
        lock.unlock();
        std::string error;
        Outcome o = curl ? Post(curl, body, &error) : Outcome::kFailed;
        if (!curl) error = "curl_easy_init failed";
        lock.lock();
        if (o == Outcome::kSent) {
          ++stats_.sent;
          stats_.last_sent_unix_ms = NowUnixMs();
          backoff = config_.retry_backoff_ms;
          break;
        }
        stats_.last_error = error;
        if (o == Outcome::kRejected) {
          ++stats_.rejected;
          log::Warn("event sink {}: {} refused event {}: {}", config_.name, config_.url, e.kind,
                    error);
          break;
        }
        if (stats_.failed_attempts++ == 0 || backoff >= config_.retry_max_backoff_ms)
          log::Warn("event sink {}: POST to {} failed ({}); retrying in {} ms", config_.name,
                    config_.url, error, backoff);
        cv_.wait_for(lock, std::chrono::milliseconds(backoff), [this] { return stop_; });
        backoff = std::min(backoff * 2, std::max(config_.retry_max_backoff_ms, 1));
      }
      in_flight_ = false;
    }
    lock.unlock();
    curl_slist_free_all(headers_);
    if (curl) curl_easy_cleanup(curl);
  }

  const EventSinkConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool in_flight_ = false;
  bool stop_ = false;
  EventSinkStats stats_;
  curl_slist* headers_ = nullptr;
  std::thread thread_;
};

void EventSinks::Configure(const std::vector<EventSinkConfig>& sinks) {
  std::vector<std::shared_ptr<Sink>> next, retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Sink>> old = std::move(sinks_);
    for (const EventSinkConfig& c : sinks) {
      auto same = std::find_if(old.begin(), old.end(),
                               [&](const std::shared_ptr<Sink>& s) { return s->config() == c; });
      if (same != old.end()) {
        next.push_back(std::move(*same));
        old.erase(same);
      } else {
        next.push_back(std::make_shared<Sink>(c));
        log::Info("event sink {}: posting {} events to {} ({})", c.name,
                  c.kinds.empty() ? "all" : fmt::format("{}", fmt::join(c.kinds, ",")), c.url,
                  c.format);
      }
    }
    retired = std::move(old);
    sinks_ = next;
  }
  // Joined outside the lock: a retired sink may be inside a POST for up to its timeout.
  for (auto& s : retired) s->Stop();
}

void EventSinks::Offer(const Event& e) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sinks_) s->Offer(e);
}

std::vector<EventSinkStats> EventSinks::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<EventSinkStats> out;
  for (const auto& s : sinks_) out.push_back(s->Stats());
  return out;
}

void EventSinks::Stop() {
  std::vector<std::shared_ptr<Sink>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = std::move(sinks_);
    sinks_.clear();
  }
  for (auto& s : all) s->Stop();
}

}  // namespace sluice
