#include "model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace corolla {
namespace {

bool by_logit(const candidate& a, const candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Probabilities of the (sorted) candidates at temperature t.
std::vector<double> probabilities(const std::vector<candidate>& c, double t) {
  std::vector<double> p(c.size());
  double sum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    p[i] = std::exp((double(c[i].logit) - c[0].logit) / t);
    sum += p[i];
  }
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

status sampling_params::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) {
    return status::invalid_argument("temperature must be >= 0 (0 = greedy), got " +
                                    std::to_string(temperature));
  }
  if (!(top_p > 0 && top_p <= 1)) {
    return status::invalid_argument("top_p must be in (0, 1], got " + std::to_string(top_p));
  }
  if (!(min_p >= 0 && min_p <= 1)) {
    return status::invalid_argument("min_p must be in [0, 1], got " + std::to_string(min_p));
  }
  if (!(repeat_penalty > 0) || !std::isfinite(repeat_penalty)) {
    return status::invalid_argument("repeat_penalty must be > 0 (1 = off), got " +
                                    std::to_string(repeat_penalty));
  }
  if (repeat_last_n < 0) {
    return status::invalid_argument("repeat_last_n must be >= 0, got " +
                                    std::to_string(repeat_last_n));
  }
  return status();
}

namespace {

// top-k, top-p and min-p on `c`, which keeps the survivors sorted; their probabilities at
// the temperature.
std::vector<double> filter_candidates(std::vector<candidate>& c, const sampling_params& params) {
  // top-k: keep the k largest logits, sorted
  const size_t k = params.top_k > 0 ? std::min(c.size(), size_t(params.top_k)) : c.size();
  std::partial_sort(c.begin(), c.begin() + k, c.end(), by_logit);
  c.resize(k);
  // top-p: the smallest prefix whose probability reaches p
  if (params.top_p < 1.0f) {
    const auto p = probabilities(c, 1.0);
    double cumulative = 0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      cumulative += p[i];
      if (cumulative >= params.top_p) {
        keep = i + 1;
        break;
      }
    }
    c.resize(keep);
  }
  // min-p: drop tokens less likely than min_p times the most likely one
  if (params.min_p > 0.0f) {
    const double threshold = std::log(double(params.min_p));
    size_t keep = 1;
    while (keep < c.size() && double(c[keep].logit) - c[0].logit >= threshold) ++keep;
    c.resize(keep);
  }
  return probabilities(c, params.temperature);
}

}  // namespace

int32_t sample_candidates(std::vector<candidate>& c, const sampling_params& params, float coin) {
  const auto p = filter_candidates(c, params);
  double cumulative = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cumulative += p[i];
    if (coin < cumulative) return c[i].id;
  }
  return c.back().id;
}

int32_t sample_given_draft(std::vector<candidate>& c, const sampling_params& params, int32_t draft,
                           float accept_coin, float coin) {
  const auto p = filter_candidates(c, params);
  double p_draft = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].id == draft) p_draft = p[i];
  }
  if (double(accept_coin) < p_draft) return draft;
  // The residual max(0, p - q) with q the draft's one-hot distribution: p without the
  // draft, renormalised. Taken with probability 1 - p(draft), each other token y comes out
  // with (1 - p(draft)) * p(y) / (1 - p(draft)) = p(y).
  const double rest = 1.0 - p_draft;
  double cumulative = 0;
  int32_t last = draft;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].id == draft) continue;
    last = c[i].id;
    cumulative += p[i] / rest;
    if (double(coin) < cumulative) return c[i].id;
  }
  return last;
}

void sampler::penalize(float* logits, int64_t vocab, const std::vector<int32_t>& history) const {
  // repetition penalty, as llama.cpp applies it: shrink a repeated token's logit
  if (params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0) {
    const size_t from = history.size() > size_t(params_.repeat_last_n)
                            ? history.size() - size_t(params_.repeat_last_n)
                            : 0;
    std::unordered_set<int32_t> seen(history.begin() + from, history.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= vocab) continue;
      logits[id] = logits[id] > 0 ? logits[id] / params_.repeat_penalty
                                  : logits[id] * params_.repeat_penalty;
    }
  }
}

std::vector<candidate>& sampler::fill_candidates(const float* logits, int64_t vocab) {
  candidates_.resize(size_t(vocab));
  for (int64_t i = 0; i < vocab; ++i) candidates_[i] = {int32_t(i), logits[i]};
  return candidates_;
}

float sampler::coin() {
  return float(rng_() >> 40) * 0x1p-24f;
}

int32_t sampler::sample(float* logits, int64_t vocab, const std::vector<int32_t>& history) {
  penalize(logits, vocab, history);
  if (params_.temperature <= 0.0f) {
    return int32_t(std::max_element(logits, logits + vocab) - logits);
  }
  return sample_candidates(fill_candidates(logits, vocab), params_, coin());
}

int32_t sampler::sample(float* logits, int64_t vocab, const std::vector<int32_t>& history,
                        int32_t draft) {
  if (params_.temperature <= 0.0f) return sample(logits, vocab, history);
  penalize(logits, vocab, history);
  std::vector<candidate>& c = fill_candidates(logits, vocab);
  const float accept_coin = coin();
  return sample_given_draft(c, params_, draft, accept_coin, coin());
}

}  // namespace corolla
