#include "model/generator.hpp"

#include <algorithm>
#include <chrono>

namespace corolla {
namespace {

// Prompts are prefilled in chunks of at most this many tokens, which bounds the
// workspaces ([chunk, hidden] floats) while keeping matmuls large enough to be fast.
constexpr int64_t kPrefillChunk = 512;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Length of the longest suffix of `text` that is a proper prefix of a stop string:
// text that might still become a stop string and must be held back.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& stop : stops) {
    if (stop.empty()) continue;
    for (size_t len = std::min(stop.size() - 1, text.size()); len > hold; --len) {
      if (text.compare(text.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

// Position of the first stop string in `text`, or npos.
size_t earliest_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t first = std::string::npos;
  for (const std::string& stop : stops) {
    if (!stop.empty()) first = std::min(first, text.find(stop));
  }
  return first;
}

}  // namespace

double generation_stats::prompt_tokens_per_second() const {
  return 1000.0 * double(prompt_tokens) / std::max(prompt_ms, 1e-9);
}

double generation_stats::decode_tokens_per_second() const {
  return 1000.0 * double(std::max<int64_t>(generated_tokens() - 1, 1)) /
         std::max(generate_ms, 1e-9);
}

const char* to_string(stop_reason r) {
  switch (r) {
    case stop_reason::end_of_generation:
      return "end of generation";
    case stop_reason::stop_string:
      return "stop string";
    case stop_reason::max_tokens:
      return "max tokens";
    case stop_reason::context_full:
      return "context full";
    case stop_reason::cancelled:
      return "cancelled";
  }
  return "?";
}

local_blocks::local_blocks(const std::vector<block_weights>& blocks, int64_t max_tokens)
    : blocks_(blocks) {
  for (const block_weights& b : blocks)
    caches_.emplace_back(b.config.kv_dim(), max_tokens, b.cache_type);
}

status local_blocks::forward(int64_t pos, int64_t n, float* x) {
  for (size_t b = 0; b < blocks_.size(); ++b) {
    COROLLA_RETURN_IF_ERROR(block_forward(blocks_[b], caches_[b], x, pos, n, ws_));
  }
  return status();
}

generator::generator(const head& head, const tokenizer& tokenizer, block_runner& runner,
                     int64_t max_context, logits_runner run_logits)
    : head_(head),
      tokenizer_(tokenizer),
      runner_(runner),
      max_context_(max_context),
      run_logits_(std::move(run_logits)) {}

status generator::prefill(const std::vector<int32_t>& tokens, size_t from) {
  const int64_t dim = head_.config().dim;
  cached_.resize(from);  // the runner truncates its caches to `from` on the first chunk
  for (size_t pos = from; pos < tokens.size(); pos += kPrefillChunk) {
    const int64_t n = std::min<int64_t>(kPrefillChunk, int64_t(tokens.size() - pos));
    x_.resize(size_t(n * dim));
    COROLLA_RETURN_IF_ERROR(head_.embed(&tokens[pos], n, x_.data()));
    COROLLA_RETURN_IF_ERROR(runner_.forward(int64_t(pos), n, x_.data()));
    cached_.insert(cached_.end(), tokens.begin() + pos, tokens.begin() + pos + n);
    if (pos + n == tokens.size()) COROLLA_RETURN_IF_ERROR(logits_of(x_.data() + (n - 1) * dim));
  }
  return status();
}

status generator::logits_of(const float* x) {
  logits_.resize(size_t(head_.vocab_size()));
  if (run_logits_) return run_logits_(x, logits_.data());
  head_.logits(x, 1, logits_.data(), head_ws_);
  return status();
}

status generator::verify(int32_t id, const std::vector<int32_t>& drafts) {
  const int64_t dim = head_.config().dim;
  std::vector<int32_t> step{id};
  step.insert(step.end(), drafts.begin(), drafts.end());
  const int64_t n = int64_t(step.size());
  ahead_.resize(size_t(n * dim));
  COROLLA_RETURN_IF_ERROR(head_.embed(step.data(), n, ahead_.data()));
  COROLLA_RETURN_IF_ERROR(runner_.forward(int64_t(cached_.size()), n, ahead_.data()));
  cached_.insert(cached_.end(), step.begin(), step.end());
  return logits_of(ahead_.data());
}

size_t reusable_prefix(const std::vector<int32_t>& cached, const std::vector<int32_t>& tokens) {
  size_t common = 0;
  while (common < cached.size() && common < tokens.size() && cached[common] == tokens[common]) {
    ++common;
  }
  return std::min(common, tokens.size() - 1);
}

std::vector<int32_t> draft_from_context(const std::vector<int32_t>& context, int32_t max_tokens) {
  const size_t size = context.size();
  if (max_tokens <= 0) return {};
  for (size_t n = std::min<size_t>(3, size > 0 ? size - 1 : 0); n >= 1; --n) {
    const auto suffix = context.end() - std::ptrdiff_t(n);
    // The latest earlier occurrence: its continuation is what this context last did here.
    for (size_t at = size - n; at-- > 0;) {
      if (!std::equal(suffix, context.end(), context.begin() + std::ptrdiff_t(at))) continue;
      const size_t from = at + n;
      const size_t take = std::min(size - from, size_t(max_tokens));
      return std::vector<int32_t>(context.begin() + std::ptrdiff_t(from),
                                  context.begin() + std::ptrdiff_t(from + take));
    }
  }
  return {};
}

result<generation_stats> generator::generate(const std::vector<int32_t>& tokens,
                                             const generation_options& options,
                                             const text_callback& on_text) {
  if (tokens.empty()) return status::invalid_argument("the prompt has no tokens");
  COROLLA_RETURN_IF_ERROR(options.sampling.validate());
  if (options.draft_tokens < 0 || options.draft_tokens > max_draft_tokens) {
    return status::invalid_argument("draft_tokens must be in [0, " +
                                    std::to_string(max_draft_tokens) + "], got " +
                                    std::to_string(options.draft_tokens));
  }
  if (options.max_tokens < 1) {
    return status::invalid_argument("max_tokens must be >= 1, got " +
                                    std::to_string(options.max_tokens));
  }
  if (int64_t(tokens.size()) >= max_context_) {
    return status::out_of_range("the prompt's " + std::to_string(tokens.size()) +
                                " tokens do not fit the context of " +
                                std::to_string(max_context_) + " tokens");
  }
  // Reuse the cached prefix; at least the last token is run again for its logits.
  const size_t common = reusable_prefix(cached_, tokens);

  generation_stats stats;
  auto start = std::chrono::steady_clock::now();
  const status prefilled = prefill(tokens, common);
  if (!prefilled.ok()) {
    cached_.clear();  // the caches' contents are unknown after a failed step
    return prefilled;
  }
  stats.prompt_tokens = int64_t(tokens.size() - common);
  stats.prompt_ms = ms_since(start);
  start = std::chrono::steady_clock::now();

  sampler sample(options.sampling);
  std::vector<int32_t> history = tokens;
  token_stream stream(tokenizer_);
  std::string pending;  // final text not yet passed to on_text
  const bool speculate = options.draft_tokens > 0;
  std::vector<int32_t> drafts;  // the verified step's drafts not taken yet, in order
  const int64_t dim = head_.config().dim;
  for (;;) {
    const int32_t id =
        drafts.empty() ? sample.sample(logits_.data(), head_.vocab_size(), history)
                       : sample.sample(logits_.data(), head_.vocab_size(), history, drafts.front());
    history.push_back(id);
    stats.tokens.push_back(id);
    const bool taken = !drafts.empty() && id == drafts.front();  // counted if the answer ends here
    if (taken) ++stats.accepted;
    if (options.stop_at_eos && tokenizer_.is_end_of_generation(id)) {
      stats.reason = stop_reason::end_of_generation;
      break;
    }
    pending += stream.push(id);
    const size_t stop_at = earliest_stop(pending, options.stop_strings);
    if (stop_at != std::string::npos) {
      pending.resize(stop_at);
      stats.reason = stop_reason::stop_string;
      break;
    }
    const size_t hold = held_back(pending, options.stop_strings);
    if (pending.size() > hold) {
      if (!on_text(pending.substr(0, pending.size() - hold))) {
        pending.clear();
        stats.reason = stop_reason::cancelled;
        break;
      }
      pending.erase(0, pending.size() - hold);
    }
    if (stats.generated_tokens() >= options.max_tokens) {
      stats.reason = stop_reason::max_tokens;
      break;
    }
    if (int64_t(history.size()) >= max_context_) {
      stats.reason = stop_reason::context_full;
      break;
    }
    if (!drafts.empty()) {
      if (taken) {  // the draft the last step ran here: its row is next
        drafts.erase(drafts.begin());
        const int64_t row = int64_t(ahead_.size()) / dim - 1 - int64_t(drafts.size());
        const status st = logits_of(ahead_.data() + row * dim);
        if (!st.ok()) {
          cached_.clear();
          return st;
        }
        continue;
      }
      cached_.resize(history.size() - 1);  // the rest of the step's rows do not count
      drafts.clear();
    }
    // decode: the sampled token (and drafts after it) through every block
    ++stats.decode_steps;
    if (speculate) {
      const int64_t room = std::min<int64_t>(
          {int64_t(options.draft_tokens), int64_t(options.max_tokens) - stats.generated_tokens(),
           max_context_ - int64_t(history.size())});
      if (!drafter_) {
        drafts = draft_from_context(history, int32_t(room));
      } else if (auto drafted = drafter_->draft(history, int32_t(room)); drafted.ok()) {
        drafts = std::move(*drafted);
        drafts.resize(std::min(drafts.size(), size_t(room)));
      } else {
        return drafted.error();  // the model's caches hold the context: nothing to undo
      }
    }
    const status st = drafts.empty() ? prefill(history, cached_.size()) : verify(id, drafts);
    if (!st.ok()) {
      cached_.clear();
      return st;
    }
    stats.drafted += int64_t(drafts.size());
  }
  // Invariant 1: rows of drafts the answer did not take are not context.
  size_t kept = 0;
  while (kept < cached_.size() && kept < history.size() && cached_[kept] == history[kept]) ++kept;
  cached_.resize(kept);
  // A stop string or a cancel ends the text where it is; otherwise an unfinished UTF-8
  // sequence the stream still holds is owed to the reader.
  if (stats.reason != stop_reason::stop_string && stats.reason != stop_reason::cancelled) {
    pending += stream.flush();
  }
  if (!pending.empty()) on_text(pending);
  stats.generate_ms = ms_since(start);
  return stats;
}

}  // namespace corolla
