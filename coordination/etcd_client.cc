#include "coordination/etcd_client.h"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "coordination/base64.h"

namespace sluice::coordination {

namespace {

using nlohmann::json;

// The gateway spells int64 fields as JSON strings ("revision":"12") and leaves zero values
// out; both read here as numbers.
int64_t Int(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (it->is_string()) return std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
  if (it->is_number_integer()) return it->get<int64_t>();
  return 0;
}

std::string B64(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) return "";
  return Base64Decode(it->get<std::string>()).value_or("");
}

KeyValue ReadKv(const json& j) {
  KeyValue kv;
  kv.key = B64(j, "key");
  kv.value = B64(j, "value");
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.lease = Int(j, "lease");
  return kv;
}

Result<json> Parse(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Unavailable("etcd: response is not a JSON object: " + body.substr(0, 200));
  if (j.contains("error") || (j.contains("code") && j.contains("message")))
    return Unavailable("etcd: " + j.value("message", j.value("error", std::string("error"))));
  return j;
}

struct Transfer {
  std::string body;
  bool stop_at_event = false;
  bool stopped = false;
};

// A watch stream is one JSON object per line; the first says "created", the next one with
// "events" is what the caller waits for, so the transfer ends there.
size_t OnData(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  t->body.append(data, size * n);
  if (t->body.size() > (8u << 20)) return 0;  // bound: nothing sluice stores is that big
  if (t->stop_at_event && t->body.find("\"events\"") != std::string::npos &&
      t->body.find('\n', t->body.find("\"events\"")) != std::string::npos) {
    t->stopped = true;
    return 0;
  }
  return size * n;
}

std::once_flag curl_init;

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

EtcdClient::EtcdClient(const std::string& endpoints, int request_timeout_ms)
    : timeout_ms_(request_timeout_ms) {
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::string cur;
  for (char c : endpoints + ",") {
    if (c == ',') {
      if (!cur.empty()) endpoints_.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
}

Result<std::string> EtcdClient::Post(const std::string& path, const std::string& body,
                                     int timeout_ms, bool stop_at_event) {
  std::string last_error = "no etcd endpoint configured";
  size_t first = current_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    size_t idx = (first + i) % endpoints_.size();
    CURL* h = curl_easy_init();
    if (!h) return Internal("curl_easy_init failed");
    std::string url = "http://" + endpoints_[idx] + path;
    Transfer t;
    t.stop_at_event = stop_at_event;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 300L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");  // loopback etcd, never through a proxy
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    // A watch that timed out without events, or that we ended at its first event, is fine.
    bool watch_done =
        stop_at_event && (t.stopped || (rc == CURLE_OPERATION_TIMEDOUT && status == 200));
    if ((rc == CURLE_OK && status == 200) || watch_done) {
      current_.store(idx, std::memory_order_relaxed);
      return t.body;
    }
    if (rc == CURLE_OK) {
      last_error = fmt::format("{}: HTTP {}: {}", url, status, t.body.substr(0, 200));
      // The member answered: another one would say the same.
      errors_.fetch_add(1, std::memory_order_relaxed);
      return Unavailable("etcd: " + last_error);
    }
    last_error = fmt::format("{}: {}", url, curl_easy_strerror(rc));
  }
  errors_.fetch_add(1, std::memory_order_relaxed);
  return Unavailable("etcd: " + last_error);
}

Result<int64_t> EtcdClient::GrantLease(int ttl_s) {
  auto r = Post("/v3/lease/grant", json{{"TTL", ttl_s}}.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  int64_t id = Int(*j, "ID");
  if (id == 0) return errors_++, Unavailable("etcd: lease grant returned no ID: " + *r);
  return id;
}

Status EtcdClient::KeepAlive(int64_t lease) {
  auto r = Post("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  // One response of the stream: {"result":{"header":...,"ID":"..","TTL":".."}}; an expired
  // lease answers without a TTL.
  std::string first = r->substr(0, r->find('\n'));
  auto j = Parse(first);
  if (!j.ok()) return errors_++, j.status();
  const json& res = j->contains("result") ? (*j)["result"] : *j;
  if (Int(res, "TTL") <= 0) return NotFound(fmt::format("lease {:x} expired", lease));
  return Status::Ok();
}

Status EtcdClient::RevokeLease(int64_t lease) {
  auto r = Post("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump(), timeout_ms_);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<KeyValue>> EtcdClient::Range(const std::string& prefix, int64_t* revision) {
  json req{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}};
  auto r = Post("/v3/kv/range", req.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  if (revision) *revision = Int(j->value("header", json::object()), "revision");
  std::vector<KeyValue> out;
  if (j->contains("kvs"))
    for (const json& kv : (*j)["kvs"]) out.push_back(ReadKv(kv));
  return out;
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  json req{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease) req["lease"] = std::to_string(lease);
  auto r = Post("/v3/kv/put", req.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  return Int(j->value("header", json::object()), "revision");
}

Result<bool> EtcdClient::Create(const std::string& key, const std::string& value, int64_t lease,
                                KeyValue* existing) {
  json put{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease) put["lease"] = std::to_string(lease);
  json req{{"compare", json::array({{{"key", Base64Encode(key)},
                                     {"result", "EQUAL"},
                                     {"target", "CREATE"},
                                     {"create_revision", "0"}}})},
           {"success", json::array({{{"request_put", put}}})},
           {"failure", json::array({{{"request_range", {{"key", Base64Encode(key)}}}}})}};
  auto r = Post("/v3/kv/txn", req.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  if (j->value("succeeded", false)) return true;
  if (existing) {
    *existing = KeyValue{};
    for (const json& resp : j->value("responses", json::array())) {
      const json& rr = resp.value("response_range", json::object());
      for (const json& kv : rr.value("kvs", json::array())) *existing = ReadKv(kv);
    }
  }
  return false;
}

Result<bool> EtcdClient::PutIfLease(const std::string& guard, int64_t guard_lease,
                                    const std::string& key, const std::string& value,
                                    int64_t* revision) {
  json req{
      {"compare", json::array({{{"key", Base64Encode(guard)},
                                {"result", "EQUAL"},
                                {"target", "LEASE"},
                                {"lease", std::to_string(guard_lease)}}})},
      {"success", json::array({{{"request_put",
                                 {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}}}}})}};
  auto r = Post("/v3/kv/txn", req.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  if (revision) *revision = Int(j->value("header", json::object()), "revision");
  return j->value("succeeded", false);
}

Result<bool> EtcdClient::DeleteIfLease(const std::string& key, int64_t lease) {
  json req{{"compare", json::array({{{"key", Base64Encode(key)},
                                     {"result", "EQUAL"},
                                     {"target", "LEASE"},
                                     {"lease", std::to_string(lease)}}})},
           {"success", json::array({{{"request_delete_range", {{"key", Base64Encode(key)}}}}})}};
  auto r = Post("/v3/kv/txn", req.dump(), timeout_ms_);
  if (!r.ok()) return r.status();
  auto j = Parse(*r);
  if (!j.ok()) return errors_++, j.status();
  return j->value("succeeded", false);
}

Result<std::vector<WatchEvent>> EtcdClient::Watch(const std::string& prefix, int64_t from,
                                                  int timeout_ms) {
  json req{{"create_request",
            {{"key", Base64Encode(prefix)},
             {"range_end", Base64Encode(PrefixEnd(prefix))},
             {"start_revision", std::to_string(from)}}}};
  auto r = Post("/v3/watch", req.dump(), timeout_ms, /*stop_at_event=*/true);
  if (!r.ok()) return r.status();
  std::vector<WatchEvent> out;
  bool created = false;
  size_t pos = 0;
  while (pos < r->size()) {
    size_t nl = r->find('\n', pos);
    if (nl == std::string::npos) break;  // a partial last line: the next watch reads it again
    std::string line = r->substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    auto j = Parse(line);
    if (!j.ok()) return errors_++, j.status();
    const json& res = j->value("result", json::object());
    if (res.value("created", false)) created = true;
    if (res.value("canceled", false))
      return errors_++, Unavailable("etcd: watch canceled: " +
                                    res.value("cancel_reason", std::string("compacted")));
    for (const json& e : res.value("events", json::array())) {
      WatchEvent we;
      we.kv = ReadKv(e.value("kv", json::object()));
      we.deleted = e.value("type", std::string("PUT")) == "DELETE";
      out.push_back(std::move(we));
    }
  }
  if (!created && out.empty()) return errors_++, Unavailable("etcd: watch was not created");
  return out;
}

}  // namespace sluice::coordination
