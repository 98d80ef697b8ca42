#include "model/draft_model.hpp"

#include <algorithm>
#include <string>

namespace corolla {

result<std::unique_ptr<draft_model>> draft_model::make(std::shared_ptr<const llama_model> model,
                                                       const tokenizer& target,
                                                       int64_t max_context) {
  if (!model->has_head() || model->first_block() != 0 ||
      int64_t(model->blocks().size()) != model->config().n_blocks) {
    return status::invalid_argument("the draft model must be loaded whole, with its head");
  }
  const std::vector<std::string>& own = model->tokenizer().vocab().tokens;
  const std::vector<std::string>& theirs = target.vocab().tokens;
  if (own.size() != theirs.size()) {
    return status::invalid_argument(
        "the draft model's vocabulary has " + std::to_string(own.size()) + " tokens, the model's " +
        std::to_string(theirs.size()) + ": its drafts would be other tokens");
  }
  for (size_t id = 0; id < own.size(); ++id) {
    if (own[id] != theirs[id]) {
      return status::invalid_argument("the draft model's token " + std::to_string(id) + " is '" +
                                      own[id] + "', the model's '" + theirs[id] +
                                      "': the vocabularies differ");
    }
  }
  return std::unique_ptr<draft_model>(new draft_model(std::move(model), max_context));
}

draft_model::draft_model(std::shared_ptr<const llama_model> model, int64_t max_context)
    : model_(std::move(model)),
      max_context_(std::min(max_context, model_->config().context_length)),
      blocks_(model_->blocks(), max_context_) {}

status draft_model::run(const std::vector<int32_t>& tokens, size_t from) {
  const int64_t dim = model_->config().dim;
  const int64_t n = int64_t(tokens.size() - from);
  x_.resize(size_t(n * dim));
  COROLLA_RETURN_IF_ERROR(model_->head().embed(tokens.data() + from, n, x_.data()));
  COROLLA_RETURN_IF_ERROR(blocks_.forward(int64_t(from), n, x_.data()));
  cached_.resize(from);
  cached_.insert(cached_.end(), tokens.begin() + std::ptrdiff_t(from), tokens.end());
  logits_.resize(size_t(model_->head().vocab_size()));
  model_->head().logits(x_.data() + (n - 1) * dim, 1, logits_.data(), head_ws_);
  return status();
}

result<std::vector<int32_t>> draft_model::draft(const std::vector<int32_t>& context,
                                                int32_t max_tokens) {
  std::vector<int32_t> out;
  const int64_t room = max_context_ - int64_t(context.size());
  max_tokens = int32_t(std::min<int64_t>(max_tokens, room));
  if (max_tokens <= 0 || context.empty()) return out;
  if (status s = run(context, reusable_prefix(cached_, context)); !s.ok()) {
    cached_.clear();  // the caches' contents are unknown after a failed step
    return s;
  }
  std::vector<int32_t> tokens = context;
  for (int32_t i = 0; i < max_tokens; ++i) {
    const int32_t id = int32_t(std::max_element(logits_.begin(), logits_.end()) - logits_.begin());
    out.push_back(id);
    if (i + 1 == max_tokens) break;
    tokens.push_back(id);
    if (status s = run(tokens, tokens.size() - 1); !s.ok()) {
      cached_.clear();
      return s;
    }
  }
  return out;
}

}  // namespace corolla
