#include "tests/actors/swarm_fixture.hpp"

#include <iostream>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "messages/caf_types.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla::testing {

std::string stories_path() {
  return shared_path("models/stories260K.gguf");
}

std::string made_stories_model(const std::string& name, uint64_t default_seed) {
  const uint64_t seed = test_seed(default_seed);
  std::cout << "model seed " << seed << "\n";
  const std::string path = temp_path(name + "-" + std::to_string(seed) + ".gguf");
  return make_preset_model("stories260k", ggml_type::q8_0, seed, path).ok() ? path : "";
}

result<local_swarm> start_swarm(caf::actor_system& system, const std::string& model,
                                const std::vector<block_span>& spans,
                                std::vector<fault_injection> faults) {
  local_swarm_options o;
  o.model_path = model;
  o.spans = spans;
  o.faults = std::move(faults);
  return local_swarm::start(system, o);
}

answer ask(caf::actor_system& system, const caf::actor& client, const generate_request& req,
           std::chrono::seconds timeout, const std::function<void(int)>& on_chunk) {
  caf::scoped_actor self{system};
  self->send(client, req);
  answer a;
  bool done = false;
  int chunks = 0;
  self->receive_while([&] { return !done; })(
      [&](text_chunk& c) {
        a.text += c.text;
        if (on_chunk) on_chunk(++chunks);
      },
      [&](generate_reply& r) {
        a.reply = std::move(r);
        done = true;
      },
      [&](caf::error& e) {
        a.error = describe(e);
        done = true;
      },
      caf::after(timeout) >>
          [&] {
            a.error = "no answer within the timeout";
            done = true;
          });
  return a;
}

generate_request greedy(const std::string& prompt, int32_t max_tokens) {
  generate_request req;
  req.prompt = prompt;
  req.options.sampling.temperature = 0;
  req.options.max_tokens = max_tokens;
  return req;
}

std::vector<int32_t> single_process_tokens(const std::string& model_path, precision kind,
                                           const generate_request& req, std::string* text,
                                           std::optional<kv_type> kv) {
  model_options options;
  options.kind = kind;
  options.kv = kv;
  auto model = llama_model::load(model_path, options);
  if (!model.ok()) return {};
  const int64_t context = std::min<int64_t>(model->config().context_length, 4096);
  local_blocks blocks(model->blocks(), context);
  generator gen(model->head(), model->tokenizer(), blocks, context);
  // As the client: the request's tokens when it has them, else its prompt encoded.
  const std::vector<int32_t> prompt =
      req.tokens.empty() ? model->tokenizer().encode(req.prompt, true, true) : req.tokens;
  auto stats = gen.generate(prompt, req.options, [&](const std::string& piece) {
    if (text) *text += piece;
    return true;
  });
  return stats.ok() ? stats->tokens : std::vector<int32_t>{};
}

}  // namespace corolla::testing
