// draft_model: speculation's drafts from a small model run in this process (`--draft
// FILE`), as llama.cpp's speculative example does: the draft model continues the context
// greedily for k tokens and the swarm verifies them in one step.
//
// Invariants:
//  1. A draft is the draft model's argmax at each position, never a sample: the target's
//     accept/reject rule (sampler.hpp, sample_given_draft) assumes a certain draft.
//  2. Its caches hold a prefix of the last context it drafted after plus its drafts; a
//     new call reuses the longest common prefix (rejected drafts are rewound by position).
//  3. The draft model's vocabulary is the target's, token for token (checked at make):
//     a draft is a token id of the target.
// One owner; the model's weights may be shared with other draft_models.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/status.hpp"

namespace corolla {

class draft_model : public draft_source {
 public:
  // Errors: invalid_argument when `model` has no head or does not cover every block, or
  // when its vocabulary differs from `target`'s (naming the first differing token).
  static result<std::unique_ptr<draft_model>> make(std::shared_ptr<const llama_model> model,
                                                   const tokenizer& target, int64_t max_context);

  result<std::vector<int32_t>> draft(const std::vector<int32_t>& context,
                                     int32_t max_tokens) override;

 private:
  draft_model(std::shared_ptr<const llama_model> model, int64_t max_context);
  // Runs tokens [from, end) of `tokens` at positions from.., leaving the last row's logits.
  status run(const std::vector<int32_t>& tokens, size_t from);

  std::shared_ptr<const llama_model> model_;
  int64_t max_context_;
  local_blocks blocks_;
  std::vector<int32_t> cached_;
  std::vector<float> x_;
  std::vector<float> logits_;
  head_workspace head_ws_;
};

}  // namespace corolla
