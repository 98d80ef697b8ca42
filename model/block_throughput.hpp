// block_throughput: how fast this machine runs one transformer block of a model — the
// compute half of the throughput a server announces for balancing (Petals measures the
// same at start). Measured with the real kernels on a loaded block, and cached on disk
// per model shape, weight precision, machine and thread count, so that a node that
// restarts does not measure again.
//
// The cache is one JSON file (cereal), read whole and written whole; a file that can not
// be parsed is an error naming it, never silently replaced.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "model/block_weights.hpp"
#include "model/status.hpp"

namespace corolla {

struct block_throughput {
  double decode_steps_per_s = 0;    // one token, after a 64-token context
  double prefill_tokens_per_s = 0;  // a 128-token prefill

  template <class Archive>
  void serialize(Archive& ar) {
    ar(decode_steps_per_s, prefill_tokens_per_s);
  }
};

// Runs `w` `decode_steps` times on one token and once on a prefill (after a warm-up).
// Errors: from the block (its cache can not hold the steps).
result<block_throughput> measure_block(const block_weights& w, int decode_steps = 32);

// What a measurement depends on: "dim 2048, hidden 5632, heads 32/4, int8 avx2 | CPU |
// N threads" (the int8 kernel path too: a capped process runs slower kernels).
std::string throughput_key(const block_weights& w, int threads);

class throughput_cache {
 public:
  // The file's measurements; none when it does not exist. Errors: io_error or
  // corruption naming the file when it can not be read or parsed.
  static result<throughput_cache> open(std::string path);

  std::optional<block_throughput> find(const std::string& key) const;
  // Records `t` under `key` and writes the file. Errors: io_error naming the file.
  status store(const std::string& key, const block_throughput& t);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, block_throughput> entries_;
};

// $XDG_CACHE_HOME/corolla/throughput.json, else ~/.cache/corolla/throughput.json.
std::string default_throughput_cache_path();

// The cached figure for `w` on this machine with `threads` (0: this thread's OpenMP
// team), or a measurement, stored. Errors: the measurement's, or the cache's write.
result<block_throughput> cached_block_throughput(const block_weights& w, int threads,
                                                 throughput_cache& cache);

// What a node announces until it has timed steps of its own: the cached figure, or a
// measurement (stored when the cache can take it). `source` says which, and why a cache
// could not be used. cache_path "none": measure, keep nothing; "": the default path.
result<block_throughput> node_block_throughput(const block_weights& w,
                                               const std::string& cache_path, std::string& source);

}  // namespace corolla
