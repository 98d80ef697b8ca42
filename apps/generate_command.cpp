#include "apps/generate_command.hpp"

#include <omp.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command_line.hpp"
#include "bench/process_stats.hpp"
#include "kernels/cpu_isa.hpp"
#include "model/draft_model.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"

namespace po = boost::program_options;

namespace corolla {

int run_generate(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts("corolla generate --model FILE --prompt TEXT");
  std::string model_path, prompt;
  generation_options gen;
  gen.max_tokens = 128;
  int threads = 0;
  int64_t context = 0;
  opts.add_options()("help,h", "show this help")("model,m", po::value(&model_path), "GGUF file")(
      "prompt,p", po::value(&prompt), "text to continue")(
      "max-tokens,n", po::value(&gen.max_tokens)->default_value(128), "new tokens at most")(
      "temperature", po::value(&gen.sampling.temperature)->default_value(0.8f, "0.8"),
      "0 = greedy")("top-k", po::value(&gen.sampling.top_k)->default_value(40), "0 = off")(
      "top-p", po::value(&gen.sampling.top_p)->default_value(0.95f, "0.95"), "1 = off")(
      "min-p", po::value(&gen.sampling.min_p)->default_value(0.05f, "0.05"), "0 = off")(
      "repeat-penalty", po::value(&gen.sampling.repeat_penalty)->default_value(1.0f, "1.0"),
      "1 = off")("seed", po::value(&gen.sampling.seed)->default_value(0), "sampling seed")(
      "stop", po::value(&gen.stop_strings)->composing(), "stop string (repeatable)")(
      "threads,t", po::value(&threads), "OpenMP threads (default: all cores)")(
      "context,c", po::value(&context), "KV cache tokens (default: the model's, at most 4096)")(
      "json", "print one JSON object (prompt ids, generated ids, text, stats) instead of text");
  std::string weights, kv, draft_path;
  add_precision_options(opts, weights, &kv);
  add_speculation_options(opts, gen.draft_tokens, draft_path);
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla generate", out, vm)) return *done;
  if (model_path.empty() || prompt.empty()) {
    std::cerr << "corolla generate: --model FILE and --prompt TEXT are required\n";
    return 2;
  }
  if (!use_threads(threads, "corolla generate")) return 2;

  model_options options;
  const auto kind = precision_from_options(vm, weights, "corolla generate");
  if (!kind || !kv_from_options(kv, "corolla generate", options.kv)) return 2;
  options.kind = *kind;
  auto model = llama_model::load(model_path, options);
  if (!model.ok()) {
    std::cerr << "corolla generate: " << model.error().message() << "\n";
    return 1;
  }
  const int64_t max_context =
      context > 0 ? context : std::min<int64_t>(model->config().context_length, 4096);
  local_blocks blocks(model->blocks(), max_context);
  const kv_type cache = model->blocks().front().cache_type;
  generator g(model->head(), model->tokenizer(), blocks, max_context);
  std::shared_ptr<const llama_model> draft;
  if (!load_draft_model(vm, draft_path, gen.draft_tokens, draft, "corolla generate")) return 1;
  std::unique_ptr<draft_model> drafts;
  if (draft) {
    auto made = draft_model::make(draft, model->tokenizer(), max_context);
    if (!made.ok()) {
      std::cerr << "corolla generate: --draft: " << made.error().message() << "\n";
      return 1;
    }
    drafts = std::move(*made);
    g.set_draft_source(drafts.get());
  }
  const auto tokens = model->tokenizer().encode(prompt, /*add_bos=*/true, /*parse_special=*/true);

  const bool json = vm.count("json") > 0;
  std::string text;
  if (!json) out << prompt << std::flush;
  auto stats = g.generate(tokens, gen, [&](const std::string& piece) {
    text += piece;
    if (!json) out << piece << std::flush;
    return true;
  });
  if (!json) out << std::endl;
  if (!stats.ok()) {
    std::cerr << "corolla generate: " << stats.error().message() << "\n";
    return 1;
  }
  const std::string kernels =
      options.kind == precision::f32 ? "f32 reference" : int8_path_summary();
  if (json) {
    // Invalid UTF-8 (a piece of a character, from random weights) must not abort the dump.
    const nlohmann::json report = {
        {"model", model_path},
        {"prompt", prompt},
        {"prompt_ids", tokens},
        {"generated_ids", stats->tokens},
        {"text", text},
        {"stop", to_string(stats->reason)},
        {"stats",
         {{"prompt_tokens", stats->prompt_tokens},
          {"prompt_ms", stats->prompt_ms},
          {"prompt_tokens_per_second", stats->prompt_tokens_per_second()},
          {"generated_tokens", stats->generated_tokens()},
          {"decode_tokens_per_second", stats->decode_tokens_per_second()},
          {"decode_steps", stats->decode_steps},
          {"drafted_tokens", stats->drafted},
          {"accepted_tokens", stats->accepted},
          {"load_seconds", model->load_seconds()},
          {"precision", to_string(options.kind)},
          {"kv_type", to_string(cache)},
          {"kernels", kernels},
          {"threads", omp_get_max_threads()}}}};
    out << report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::fprintf(stderr,
               "prompt %lld tokens in %.1f ms (%.1f tokens/s) | generated %lld tokens "
               "(%.1f tokens/s, %.2f ms/token) | stop: %s | %s, KV %s, load %.2f s, peak RSS %.0f "
               "MiB\n"
               "kernels: %s, %d threads\n",
               (long long)stats->prompt_tokens, stats->prompt_ms, stats->prompt_tokens_per_second(),
               (long long)stats->generated_tokens(), stats->decode_tokens_per_second(),
               1000.0 / stats->decode_tokens_per_second(), to_string(stats->reason),
               to_string(options.kind), to_string(cache), model->load_seconds(),
               double(peak_rss_bytes()) / (1 << 20), kernels.c_str(), omp_get_max_threads());
  if (stats->drafted > 0) {
    std::fprintf(stderr, "speculation: %lld of %lld drafted tokens accepted, %lld decode steps\n",
                 (long long)stats->accepted, (long long)stats->drafted,
                 (long long)stats->decode_steps);
  }
  return 0;
}

}  // namespace corolla
