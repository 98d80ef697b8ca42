#include <omp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "bench/bench_commands.hpp"
#include "bench/process_stats.hpp"
#include "kernels/cpu_isa.hpp"
#include "model/generator.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"

namespace corolla {
namespace {

// Another process keeping one core busy for as long as it lives: the machine a node
// shares with its owner.
class busy_core {
 public:
  busy_core() {
    pid_ = fork();
    if (pid_ == 0) {
      for (volatile uint64_t spin = 0;; spin = spin + 1) {
      }
    }
  }
  busy_core(const busy_core&) = delete;
  busy_core& operator=(const busy_core&) = delete;
  ~busy_core() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

result<generation_stats> run_random_prompt(const llama_model& m, int64_t prompt_tokens,
                                           int32_t max_tokens, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  for (int32_t& id : prompt) id = int32_t(rng() % uint64_t(m.config().vocab_size));
  const int64_t context = prompt_tokens + max_tokens + 1;
  local_blocks blocks(m.blocks(), context);
  generator g(m.head(), m.tokenizer(), blocks, context);
  generation_options options;
  options.sampling.temperature = 0;
  options.max_tokens = max_tokens;
  options.stop_at_eos = false;
  return g.generate(prompt, options, [](const std::string&) { return true; });
}

result<std::string> bench_model(const std::string& given) {
  if (!given.empty()) return given;
  const std::string path = "demo/tinyllama-1.1b-q8_0.gguf";
  if (std::filesystem::exists(path)) return path;
  std::cerr << "making " << path << " (model maker, preset tinyllama-1.1b, q8_0, seed 1)\n";
  COROLLA_RETURN_IF_ERROR(make_preset_model("tinyllama-1.1b", ggml_type::q8_0, 1, path));
  return path;
}

result<int64_t> model_blocks(const std::string& path) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(path));
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  return config.n_blocks;
}

int run_generate_bench(const generate_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench generate: " << path.error().message() << "\n";
    return 1;
  }
  const std::string model_path = *path;
  const int decode_tokens = options.decode_tokens;
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
    run_random_prompt(m, prefill_n[i], 1, 1);  // makes the oneDNN primitives of this size
    auto prefill = run_random_prompt(m, prefill_n[i], 1, 2);
    if (!prefill.ok()) {
      std::cerr << "corolla bench generate: " << prefill.error().message() << "\n";
      return 1;
    }
    prefill_ms[i] = prefill->prompt_ms;
  }
  auto stats = run_random_prompt(m, 64, decode_tokens, 3);
  if (!stats.ok()) {
    std::cerr << "corolla bench generate: " << stats.error().message() << "\n";
    return 1;
  }
  const double decode_tps = stats->decode_tokens_per_second();
  double busy_tps = 0;
  {
    busy_core busy;
    auto shared = run_random_prompt(m, 64, decode_tokens, 3);
    if (!shared.ok()) {
      std::cerr << "corolla bench generate: " << shared.error().message() << "\n";
      return 1;
    }
    busy_tps = shared->decode_tokens_per_second();
  }
  const double bound_tps = bandwidth * 1e9 / weight_bytes;
  // The largest caches of the run: the 512-token prefill's.
  const double cache_bytes =
      double(m.config().n_blocks) *
      double(
          kv_cache::bytes_for(m.config().kv_dim(), std::max<int64_t>(513, 64 + decode_tokens + 1)));
  const double rss = double(peak_rss_bytes());
  const double rss_target = 1.25 * weight_bytes + cache_bytes + 200e6;

  char line[256];
  out << model_path << ": " << m.config().n_blocks << " blocks, dim " << m.config().dim
      << ", int8 weights " << weight_bytes / 1e9 << " GB, " << threads << " threads; "
      << int8_path_summary() << "\n";
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
                  prefill_ms[i],
                  i == 1 ? "target: 2x llama.cpp's pp512 on this CPU" : "llama-bench pp64");
    out << line;
  }
  std::snprintf(
      line, sizeof line,
      "| decode (64-token prompt, %d steps) | %.1f tokens/s (%.1f ms/token) | "
      "%.0f%% of bandwidth / weight bytes = %.1f tokens/s (target 85%%; 1.15x llama.cpp's "
      "Q8_0 tg) |\n",
      decode_tokens, decode_tps, 1000.0 / decode_tps, 100.0 * decode_tps / bound_tps, bound_tps);
  out << line;
  std::snprintf(line, sizeof line,
                "| decode, one core busy (another process spinning) | %.1f tokens/s | %.0f%% of "
                "idle (target 45%%; llama.cpp: 50%%) |\n",
                busy_tps, 100.0 * busy_tps / decode_tps);
  out << line;
  std::snprintf(line, sizeof line,
                "| peak RSS | %.0f MB | target <= 1.25 x weights + caches + 200 MB = %.0f MB |\n",
                rss / 1e6, rss_target / 1e6);
  out << line;
  return 0;
}

}  // namespace corolla
