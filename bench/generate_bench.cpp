#include <omp.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "bench/bench_commands.hpp"
#include "bench/process_stats.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Prefill of n seeded random tokens into fresh caches; returns ms.
double time_prefill(const llama_model& m, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = int32_t(rng() % uint64_t(m.config().vocab_size));
  local_blocks blocks(m.blocks(), n + 1);
  std::vector<float> x(size_t(n * m.config().dim)), logits(size_t(m.config().vocab_size));
  head_workspace ws;
  const auto start = std::chrono::steady_clock::now();
  if (!m.head().embed(ids.data(), n, x.data()).ok() || !blocks.forward(0, n, x.data()).ok()) {
    return -1;
  }
  m.head().logits(&x[size_t((n - 1) * m.config().dim)], 1, logits.data(), ws);
  return ms_since(start);
}

}  // namespace

int run_generate_bench(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts("corolla bench generate [--model FILE]");
  std::string model_path;
  int decode_tokens = 128;
  opts.add_options()("help,h", "show this help")(
      "model,m", po::value(&model_path),
      "GGUF to run (default: demo/tinyllama-1.1b-q8_0.gguf, made by the model maker if absent)")(
      "decode-tokens", po::value(&decode_tokens)->default_value(128), "decode steps to time");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "corolla bench generate: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    out << opts << "\n";
    return 0;
  }
  if (model_path.empty()) {
    model_path = "demo/tinyllama-1.1b-q8_0.gguf";
    if (!std::filesystem::exists(model_path)) {
      std::filesystem::create_directories("demo");
      std::cerr << "making " << model_path
                << " (model maker, preset tinyllama-1.1b, q8_0, seed 1)\n";
      maker_options make;
      make.shape = *maker_preset("tinyllama-1.1b");
      make.type = ggml_type::q8_0;
      make.seed = 1;
      const status st = make_model(make, model_path);
      if (!st.ok()) {
        std::cerr << "corolla bench generate: " << st.message() << "\n";
        return 1;
      }
    }
  }
  const int threads = omp_get_max_threads();
  const double bandwidth = read_bandwidth_gbs(threads);

  auto model = llama_model::load(model_path, model_options{});
  if (!model.ok()) {
    std::cerr << "corolla bench generate: " << model.error().message() << "\n";
    return 1;
  }
  const llama_model& m = *model;
  const double weight_bytes = double(m.weight_bytes());

  double prefill_ms[2] = {0, 0};
  const int64_t prefill_n[2] = {64, 512};
  for (int i = 0; i < 2; ++i) {
    time_prefill(m, prefill_n[i], 1);  // first run makes the oneDNN primitives of this size
    prefill_ms[i] = time_prefill(m, prefill_n[i], 2);
  }

  // Decode: a 64-token prompt, then greedy steps, through the generator's real path.
  local_blocks blocks(m.blocks(), 64 + decode_tokens + 1);
  generator g(m.head(), m.tokenizer(), blocks, 64 + decode_tokens + 1);
  std::vector<int32_t> prompt(64);
  std::mt19937_64 rng(3);
  for (int32_t& id : prompt) id = int32_t(rng() % uint64_t(m.config().vocab_size));
  generation_options options;
  options.sampling.temperature = 0;
  options.max_tokens = decode_tokens;
  options.stop_at_eos = false;
  auto stats = g.generate(prompt, options, [](const std::string&) { return true; });
  if (!stats.ok()) {
    std::cerr << "corolla bench generate: " << stats.error().message() << "\n";
    return 1;
  }
  const double decode_tps =
      1000.0 * double(stats->generated_tokens - 1) / std::max(stats->generate_ms, 1e-9);
  const double bound_tps = bandwidth * 1e9 / weight_bytes;
  const double cache_bytes = double(blocks.cache_bytes());
  const double rss = double(peak_rss_bytes());
  const double rss_target = 1.25 * weight_bytes + cache_bytes + 200e6;

  char line[256];
  out << model_path << ": " << m.config().n_blocks << " blocks, dim " << m.config().dim
      << ", int8 weights " << weight_bytes / 1e9 << " GB, " << threads << " threads\n";
  out << "| measure | value | reference |\n| --- | --- | --- |\n";
  std::snprintf(line, sizeof line, "| memory read bandwidth | %.1f GB/s | this run |\n", bandwidth);
  out << line;
  std::snprintf(line, sizeof line,
                "| load (map, convert to int8, release pages) | %.2f s | target <= 5 s |\n",
                m.load_seconds());
  out << line;
  for (int i = 0; i < 2; ++i) {
    std::snprintf(line, sizeof line, "| prefill %lld tokens | %.1f tokens/s (%.0f ms) | %s |\n",
                  (long long)prefill_n[i], 1000.0 * double(prefill_n[i]) / prefill_ms[i],
                  prefill_ms[i], i == 1 ? "target >= 250 tokens/s" : "llama.cpp: 84 tokens/s");
    out << line;
  }
  std::snprintf(
      line, sizeof line,
      "| decode (64-token prompt, %d steps) | %.1f tokens/s (%.1f ms/token) | "
      "%.0f%% of bandwidth / weight bytes = %.1f tokens/s (target 85%%); llama.cpp Q8_0: 24 |\n",
      decode_tokens, decode_tps, 1000.0 / decode_tps, 100.0 * decode_tps / bound_tps, bound_tps);
  out << line;
  std::snprintf(line, sizeof line,
                "| peak RSS | %.0f MB | target <= 1.25 x weights + caches + 200 MB = %.0f MB |\n",
                rss / 1e6, rss_target / 1e6);
  out << line;
  return 0;
}

}  // namespace corolla
