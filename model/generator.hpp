// generator: text generation in one process — prompt tokens -> blocks -> head ->
// sampler -> token, streaming text as it becomes final.
//
// The blocks are behind block_runner, so the same loop drives local blocks (here,
// `corolla generate`) and, in the actor runtime, a client session's chain of servers.
// Invariants:
//  1. context() is exactly the tokens whose keys and values the runner's caches hold;
//     a new call reuses the longest common prefix with it (multi-turn chat re-sends the
//     whole conversation; only the new part is computed).
//  2. Generation ends at the first of: an end-of-generation token (not shown), a stop
//     string (neither it nor anything after it is shown), max_tokens, a full context,
//     or the callback returning false. No token is computed after that point.
//  3. Text is only emitted once it can no longer turn out to start a stop string, and
//     never splits a UTF-8 sequence.
//  4. Speculation (draft_tokens > 0) changes how many positions a step runs, never what
//     the tokens follow: drafts come from the context itself (prompt lookup) or from a
//     draft_source (a small model, model/draft_model.hpp), the step runs the sampled
//     token and its drafts at once, and a draft is taken by the sampler's accept/reject
//     rule on the logits of the row before it (sampler.hpp: at temperature 0, when it is
//     the argmax, so the greedy text is the text without speculation; sampled, the
//     tokens follow the model's distribution); the runner's caches are rewound past the
//     first draft not taken (positions are explicit). Rows of a step are computed as
//     single rows are, bit for bit.
// One owner; the head and tokenizer may be shared with other generators.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/block_forward.hpp"
#include "model/head.hpp"
#include "model/sampler.hpp"
#include "model/status.hpp"
#include "model/tokenizer.hpp"

namespace corolla {

// Runs hidden states x [n, dim] through every block of the model, for tokens at
// positions [pos, pos + n), in place. Positions follow kv_cache's invariant 2.
class block_runner {
 public:
  virtual ~block_runner() = default;
  virtual status forward(int64_t pos, int64_t n, float* x) = 0;
};

// All blocks in this process, one kv_cache each, run one after the other.
class local_blocks : public block_runner {
 public:
  // REQUIRES: `blocks` outlive this object and cover the whole model.
  local_blocks(const std::vector<block_weights>& blocks, int64_t max_tokens);
  status forward(int64_t pos, int64_t n, float* x) override;

 private:
  const std::vector<block_weights>& blocks_;
  std::vector<kv_cache> caches_;
  block_workspace ws_;
};

struct generation_options {
  sampling_params sampling;
  int32_t max_tokens = 256;  // new tokens at most
  std::vector<std::string> stop_strings;
  bool stop_at_eos = true;
  // Speculative decoding: up to this many tokens drafted (from the context, or by the
  // generator's draft_source) and verified in the same step as the sampled one. 0: off.
  int32_t draft_tokens = 0;
};

// Tokens of `tokens` whose keys and values a cache holding `cached` already has: their
// longest common prefix, less the last token, which runs again for its logits.
// REQUIRES: !tokens.empty().
size_t reusable_prefix(const std::vector<int32_t>& cached, const std::vector<int32_t>& tokens);

// Speculation's drafts: after the longest suffix of `context` (3 tokens at most) that
// occurred before, the tokens that followed its latest earlier occurrence — up to
// max_tokens of them; none when no suffix repeats.
std::vector<int32_t> draft_from_context(const std::vector<int32_t>& context, int32_t max_tokens);

constexpr int32_t max_draft_tokens = 16;

// Where speculation's drafts come from instead of the context. A draft must be certain
// (the drafter's pick, not a sample of its own): the accept/reject rule assumes it.
class draft_source {
 public:
  virtual ~draft_source() = default;
  // Up to max_tokens tokens to follow `context`; fewer, or none, when it has no guess.
  virtual result<std::vector<int32_t>> draft(const std::vector<int32_t>& context,
                                             int32_t max_tokens) = 0;
};

enum class stop_reason { end_of_generation, stop_string, max_tokens, context_full, cancelled };
const char* to_string(stop_reason r);

struct generation_stats {
  int64_t prompt_tokens = 0;  // tokens prefilled (the part not already cached)
  double prompt_ms = 0;       // prefill, up to the first token's logits
  double generate_ms = 0;     // everything after: sampling and the decode steps
  stop_reason reason = stop_reason::max_tokens;
  std::vector<int32_t> tokens;  // the sampled ids in order, an end-of-generation one included
  int64_t drafted = 0;          // speculation: tokens drafted and verified
  int64_t accepted = 0;         // of them, kept
  int64_t decode_steps = 0;     // steps through the blocks after the prompt's

  int64_t generated_tokens() const { return int64_t(tokens.size()); }
  double prompt_tokens_per_second() const;
  // The first token comes from the prefill's logits: n tokens take n - 1 decode steps.
  double decode_tokens_per_second() const;
};

// Receives text as it becomes final; returns false to stop (e.g. on Ctrl-C).
using text_callback = std::function<bool(const std::string& text)>;

// Writes the logits [vocab] of one hidden state x [dim]. By default the generator runs
// its head on its own thread; the actor runtime hands rows to the process's compute
// thread, which keeps the process to one OpenMP pool and runs the rows of several
// clients as one matmul.
using logits_runner = std::function<status(const float* x, float* logits)>;

class generator {
 public:
  // REQUIRES: head, tokenizer and runner outlive the generator.
  generator(const head& head, const tokenizer& tokenizer, block_runner& runner, int64_t max_context,
            logits_runner run_logits = nullptr);

  // Continues from `tokens` (the whole context so far, e.g. BOS + prompt). Errors:
  // invalid_argument for an empty prompt or bad sampling parameters; out_of_range when
  // the prompt does not fit the context; any error of the runner or the head.
  result<generation_stats> generate(const std::vector<int32_t>& tokens,
                                    const generation_options& options,
                                    const text_callback& on_text);

  const std::vector<int32_t>& context() const { return cached_; }
  void reset() { cached_.clear(); }
  // Drafts from `source` rather than the context (null: the context). REQUIRES: it
  // outlives the generator, or is replaced first.
  void set_draft_source(draft_source* source) { drafter_ = source; }

 private:
  // Runs tokens[from, end) and leaves the last token's logits in logits_.
  status prefill(const std::vector<int32_t>& tokens, size_t from);
  // Runs `id` and `drafts` at position cached_.size() as one step, appends them all to
  // cached_, keeps the rows' hidden states in ahead_ and leaves row 0's logits in logits_.
  status verify(int32_t id, const std::vector<int32_t>& drafts);
  // The head on one hidden state [dim], into logits_.
  status logits_of(const float* x);

  const head& head_;
  const tokenizer& tokenizer_;
  block_runner& runner_;
  int64_t max_context_;
  logits_runner run_logits_;
  draft_source* drafter_ = nullptr;
  std::vector<int32_t> cached_;
  std::vector<float> x_;       // [chunk, dim]
  std::vector<float> logits_;  // [vocab]
  std::vector<float> ahead_;   // speculation: the verified step's rows [1 + drafts, dim]
  head_workspace head_ws_;
};

}  // namespace corolla
