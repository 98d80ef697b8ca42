#include "model/block_throughput.hpp"

#include <cereal/archives/json.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <omp.h>
#include <unistd.h>

#include "kernels/cpu_isa.hpp"
#include "model/block_forward.hpp"
#include "model/kv_cache.hpp"

namespace corolla {
namespace {

constexpr int64_t context_tokens = 64;
constexpr int64_t prefill_tokens = 128;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

}  // namespace

result<block_throughput> measure_block(const block_weights& w, int decode_steps) {
  const llama_config& c = w.config;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<float> x(size_t(prefill_tokens * c.dim));
  auto refill = [&](int64_t rows) {
    for (int64_t i = 0; i < rows * c.dim; ++i) x[size_t(i)] = value(rng);
  };
  block_workspace ws;
  using clock = std::chrono::steady_clock;
  block_throughput out;

  kv_cache cache(c.kv_dim(), context_tokens + decode_steps + 1, w.cache_type);
  refill(context_tokens);
  COROLLA_RETURN_IF_ERROR(block_forward(w, cache, x.data(), 0, context_tokens, ws));
  refill(1);
  COROLLA_RETURN_IF_ERROR(block_forward(w, cache, x.data(), context_tokens, 1, ws));  // warm-up
  const auto decode_start = clock::now();
  for (int i = 0; i < decode_steps; ++i) {
    refill(1);
    COROLLA_RETURN_IF_ERROR(block_forward(w, cache, x.data(), context_tokens + 1 + i, 1, ws));
  }
  const double decode_s = std::chrono::duration<double>(clock::now() - decode_start).count();
  out.decode_steps_per_s = double(decode_steps) / decode_s;

  kv_cache fresh(c.kv_dim(), prefill_tokens, w.cache_type);
  refill(prefill_tokens);
  const auto prefill_start = clock::now();
  COROLLA_RETURN_IF_ERROR(block_forward(w, fresh, x.data(), 0, prefill_tokens, ws));
  const double prefill_s = std::chrono::duration<double>(clock::now() - prefill_start).count();
  out.prefill_tokens_per_s = double(prefill_tokens) / prefill_s;
  return out;
}

std::string throughput_key(const block_weights& w, int threads) {
  const llama_config& c = w.config;
  // What the block runs on: a native block of a Q8_0 file holds only int8 matrices.
  const bool native =
      w.qkv.is_native() || w.wo.is_native() || w.gate_up.is_native() || w.down.is_native();
  const char* kind = w.kind == precision::f32 ? "f32" : native ? "native" : "int8";
  return "dim " + std::to_string(c.dim) + ", hidden " + std::to_string(c.hidden_dim) + ", heads " +
         std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) + ", " + kind +
         (w.kind != precision::f32 ? std::string(" ") + to_string(process_int8_path()) : "") +
         " | " + cpu_model() + " | " + std::to_string(threads) + " threads";
}

result<throughput_cache> throughput_cache::open(std::string path) {
  throughput_cache cache;
  cache.path_ = std::move(path);
  std::error_code ec;
  if (!std::filesystem::exists(cache.path_, ec)) return cache;
  std::ifstream in(cache.path_);
  if (!in) return status::io_error(cache.path_ + ": can not be read");
  try {
    cereal::JSONInputArchive archive(in);
    archive(cereal::make_nvp("measurements", cache.entries_));
  } catch (const std::exception& e) {
    return status::corruption(cache.path_ + ": not a throughput cache (" + e.what() +
                              "); delete it to measure again");
  }
  return cache;
}

std::optional<block_throughput> throughput_cache::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

status throughput_cache::store(const std::string& key, const block_throughput& t) {
  entries_[key] = t;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  // Written aside and renamed over: nodes starting together never read a torn file.
  const std::string aside = path_ + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(aside);
    if (!out) return status::io_error(path_ + ": can not be written");
    {
      cereal::JSONOutputArchive archive(out);
      archive(cereal::make_nvp("measurements", entries_));
    }
    out << "\n";
    if (!out) return status::io_error(path_ + ": write failed");
  }
  std::filesystem::rename(aside, path_, ec);
  if (ec) return status::io_error(path_ + ": " + ec.message());
  return status();
}

std::string default_throughput_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = xdg && *xdg ? xdg : std::string(home ? home : ".") + "/.cache";
  return base + "/corolla/throughput.json";
}

namespace {

// The cached figure, or a measurement and how storing it went.
struct looked_up {
  block_throughput value;
  bool cached = false;
  status stored;
};

result<looked_up> look_up_or_measure(const block_weights& w, int threads, throughput_cache& cache) {
  const std::string key = throughput_key(w, threads > 0 ? threads : omp_get_max_threads());
  if (auto known = cache.find(key)) return looked_up{*known, true, status()};
  COROLLA_ASSIGN_OR_RETURN(const block_throughput measured, measure_block(w));
  return looked_up{measured, false, cache.store(key, measured)};
}

}  // namespace

result<block_throughput> cached_block_throughput(const block_weights& w, int threads,
                                                 throughput_cache& cache) {
  COROLLA_ASSIGN_OR_RETURN(const looked_up found, look_up_or_measure(w, threads, cache));
  COROLLA_RETURN_IF_ERROR(found.stored);
  return found.value;
}

result<block_throughput> node_block_throughput(const block_weights& w,
                                               const std::string& cache_path, std::string& source) {
  if (cache_path == "none") {
    source = "measured";
    return measure_block(w);
  }
  const std::string path = cache_path.empty() ? default_throughput_cache_path() : cache_path;
  auto cache = throughput_cache::open(path);
  if (!cache.ok()) {
    source = "measured (" + cache.error().message() + ")";
    return measure_block(w);
  }
  // One measurement at most: a cache that can not be written still gives its figure.
  COROLLA_ASSIGN_OR_RETURN(const looked_up found, look_up_or_measure(w, 0, *cache));
  source = found.cached        ? "cached in " + path
           : found.stored.ok() ? "measured, cached in " + path
                               : "measured (" + found.stored.message() + ")";
  return found.value;
}

}  // namespace corolla
