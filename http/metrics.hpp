// metrics: what the HTTP face counts, rendered in Prometheus' text format (version
// 0.0.4) for GET /metrics. Counters only grow; histograms have fixed buckets in seconds.
// Swarm-wide gauges (servers, sessions, KV rows, moves) come from the routing table's
// records at scrape time (http/swarm_view.hpp), not from here.
// Thread-safe: every HTTP worker thread records into one instance.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace corolla {

class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket, _sum and _count lines of `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class gateway_metrics {
 public:
  gateway_metrics();

  // endpoint: "chat", "completions", "tokenize", ...; outcome: "ok", "invalid", "busy",
  // "unavailable", "unauthorized", "cancelled", "failed".
  void request(const std::string& endpoint, const std::string& outcome);
  void tokens(int64_t prompt, int64_t generated);
  void time_to_first_token(double seconds);
  void time_per_token(double seconds);
  void recoveries(int64_t failovers);
  void set_open_requests(int64_t open, int64_t kept_sessions);

  // The counters and histograms, with HELP and TYPE lines.
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  uint64_t recoveries_ = 0;
  int64_t open_requests_ = 0;
  int64_t kept_sessions_ = 0;
  histogram ttft_;
  histogram per_token_;
};

// A Prometheus label value, escaped (backslash, quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace corolla
