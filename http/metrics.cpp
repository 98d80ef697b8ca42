#include "http/metrics.hpp"

#include <cstdio>

namespace corolla {
namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

gateway_metrics::gateway_metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      per_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void gateway_metrics::request(const std::string& endpoint, const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, outcome}];
}

void gateway_metrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += uint64_t(prompt);
  generated_tokens_ += uint64_t(generated);
}

void gateway_metrics::time_to_first_token(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(seconds);
}

void gateway_metrics::time_per_token(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  per_token_.observe(seconds);
}

void gateway_metrics::recoveries(int64_t failovers) {
  std::lock_guard<std::mutex> lock(mu_);
  recoveries_ += uint64_t(failovers);
}

void gateway_metrics::set_open_requests(int64_t open, int64_t kept_sessions) {
  std::lock_guard<std::mutex> lock(mu_);
  open_requests_ = open;
  kept_sessions_ = kept_sessions;
}

std::string gateway_metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  header(out, "corolla_requests_total", "counter", "HTTP API requests by endpoint and outcome.");
  for (const auto& [key, count] : requests_) {
    out += "corolla_requests_total{endpoint=\"" + prometheus_label(key.first) + "\",outcome=\"" +
           prometheus_label(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  header(out, "corolla_prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
  out += "corolla_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  header(out, "corolla_generated_tokens_total", "counter", "Tokens generated.");
  out += "corolla_generated_tokens_total " + std::to_string(generated_tokens_) + "\n";
  header(out, "corolla_recoveries_total", "counter",
         "Failovers the gateway's sessions went through (each bans the failed server).");
  out += "corolla_recoveries_total " + std::to_string(recoveries_) + "\n";
  header(out, "corolla_open_requests", "gauge", "Generation requests running now.");
  out += "corolla_open_requests " + std::to_string(open_requests_) + "\n";
  header(out, "corolla_kept_sessions", "gauge",
         "Finished sessions kept open for their conversation's next turn.");
  out += "corolla_kept_sessions " + std::to_string(kept_sessions_) + "\n";
  header(out, "corolla_time_to_first_token_seconds", "histogram",
         "From a request's arrival to its first token.");
  ttft_.render("corolla_time_to_first_token_seconds", out);
  header(out, "corolla_time_per_token_seconds", "histogram",
         "Decode time per generated token, per request.");
  per_token_.render("corolla_time_per_token_seconds", out);
  return out;
}

}  // namespace corolla
