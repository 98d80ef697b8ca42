// sampler: picks the next token from logits, as llama.cpp's default chain does:
//   repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
// temperature <= 0 means greedy (argmax after the penalty). A value that disables a
// filter: top_k <= 0, top_p >= 1, min_p <= 0, repeat_penalty == 1.
//
// Reproducible: the generator (mt19937_64, whose sequence the standard fixes) lives in
// the sampler and is seeded by the caller; the draw is passed into the pure function
// sample_candidates(), so tests can fix it. One owner; not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/status.hpp"

namespace corolla {

struct sampling_params {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;  // tokens of history the penalty looks at
  uint64_t seed = 0;

  // Errors: invalid_argument naming the field (negative temperature, top_p outside
  // (0, 1], min_p outside [0, 1], repeat_penalty <= 0, repeat_last_n < 0).
  status validate() const;
};

struct candidate {
  int32_t id;
  float logit;
};

// Applies top-k, top-p, min-p and temperature to `candidates` (penalties already in
// the logits) and returns the id that `coin` in [0, 1) selects from the remaining
// distribution. REQUIRES: !candidates.empty(), params.temperature > 0.
int32_t sample_candidates(std::vector<candidate>& candidates, const sampling_params& params,
                          float coin);

// Speculation's accept/reject rule for a draft that was certain (prompt lookup, a greedy
// draft model): the draft with its probability p(draft) under `params` (accept_coin below
// it), else a draw (`coin`) from the others renormalised — so the token follows p exactly
// as sample_candidates' does. Coins in [0, 1). REQUIRES: as sample_candidates.
int32_t sample_given_draft(std::vector<candidate>& candidates, const sampling_params& params,
                           int32_t draft, float accept_coin, float coin);

class sampler {
 public:
  explicit sampler(const sampling_params& params) : params_(params), rng_(params.seed) {}

  // The next token given logits [vocab] and the tokens so far (the last repeat_last_n
  // of them are penalised). `logits` is modified by the penalty.
  int32_t sample(float* logits, int64_t vocab, const std::vector<int32_t>& history);
  // The same, where the step ran `draft` next: it is kept by sample_given_draft's rule (at
  // temperature 0, when it is the argmax); the token returned is then `draft`.
  int32_t sample(float* logits, int64_t vocab, const std::vector<int32_t>& history, int32_t draft);

  const sampling_params& params() const { return params_; }

 private:
  void penalize(float* logits, int64_t vocab, const std::vector<int32_t>& history) const;
  std::vector<candidate>& fill_candidates(const float* logits, int64_t vocab);  // every id
  float coin();

  sampling_params params_;
  std::mt19937_64 rng_;
  std::vector<candidate> candidates_;
};

}  // namespace corolla
