// `corolla bench kernels`, `generate` and `sessions`: benchmarks that print one
// table each, every figure next to the limit this machine sets, measured in the same
// run (memory read bandwidth). Speed is reported here, never asserted in tests.
// Flags are parsed by apps/bench_command; each suite returns the process exit code.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "messages/tensor_codec.hpp"
#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/status.hpp"

namespace corolla {

struct kernel_bench_options {
  int iterations = 200;  // GEMV calls per shape (GEMM: a tenth)
};
int run_kernel_bench(const kernel_bench_options& options, std::ostream& out);

struct generate_bench_options {
  // Empty: demo/tinyllama-1.1b-q8_0.gguf, made by the model maker when absent.
  std::string model_path;
  int decode_tokens = 128;  // decode steps timed
};
int run_generate_bench(const generate_bench_options& options, std::ostream& out);

// `corolla bench quant`: native against int8 weights (bench/quant_bench.cpp).
struct quant_bench_options {
  int steps = 64;                        // decode steps timed per row
  std::string shared_dir = "../shared";  // golden files for the accuracy table
};
int run_quant_bench(const quant_bench_options& options, std::ostream& out);

// `corolla bench sessions`: the actor runtime in one process — one session through
// the servers against the single-process generator, and aggregate decode throughput
// as concurrent sessions are batched in the block actors.
struct session_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  int decode_tokens = 32;  // per session
  int servers = 3;
  std::vector<int> sessions = {1, 2, 4, 8, 16};
};
int run_session_bench(const session_bench_options& options, std::ostream& out);

// `corolla bench http`: the HTTP face beside the REPL's path in one process (one stream,
// concurrent streams, a long conversation's second turn), and a client fetching the head.
struct http_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  int decode_tokens = 128;
  int servers = 3;
  int concurrent = 16;
};
int run_http_bench(const http_bench_options& options, std::ostream& out);

// `corolla bench swarm`: the model split over 2 and 3 actor-node processes on this
// machine, decode tokens/s with and without server-to-server push against the
// single-process generator in the same run; one-way latency per hop of a 1-token
// activation; and per wire codec the bytes per token per hop and the logit error it
// causes (vs f32) on stories260K (../shared).
struct swarm_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  int decode_tokens = 32;
  std::vector<int> processes = {2, 3};
  int latency_steps = 100;  // steps whose per-hop latencies give p50 and p99
  std::string stories_path = "../shared/models/stories260K.gguf";
  std::string swarm_key_file;  // nodes and client of a private swarm; empty: open
};
int run_swarm_bench(const swarm_bench_options& options, std::ostream& out);

// `corolla bench recovery`: a session's server killed (and one stopped) mid-generation
// on the model split over actor-node processes with a spare; the time from the fault
// to the next token, split into detection, rerouting and replay, per session length.
struct recovery_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  std::vector<int64_t> session_tokens = {64, 512, 2048};
  int64_t checkpoint_every = 64;  // the kill rows with checkpoints; 0: none
};
int run_recovery_bench(const recovery_bench_options& options, std::ostream& out);

// `corolla bench wan`: the model over 1-3 actor-node processes whose every link runs
// through a shaped relay: decode steps/s (push and round trips) and time to first token,
// each beside the physical limit of the setting (bench/wan_bench.cpp).
struct wan_setting {
  double latency_ms = 0;  // one way
  double mbps = 0;
};
struct wan_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  int decode_tokens = 16;
  std::vector<int> servers = {1, 2, 3};
  std::vector<int64_t> prompts = {128, 512};
  int32_t draft_tokens = 0;     // speculation in the decode rows (generation_options)
  int64_t prefill_chunk = 128;  // push rows' pipelined prefill; also a row with whole prompts
  std::string draft_path;       // their drafts from this model in the client; "": the context
  tensor_codec codec = tensor_codec::f16;  // the swarm's hidden states (actor-node --codec)
  // The Petals paper's settings: a cluster, a slower cluster, the internet.
  std::vector<wan_setting> settings = {{0.5, 1000}, {5, 100}, {50, 10}};
};
int run_wan_bench(const wan_bench_options& options, std::ostream& out);

// `corolla bench wire`: fuzzed frames (mutations of captured real traffic) against a live
// actor-node; prints the count, the node's RSS, and whether an honest client still gets
// its tokens. Exit code 1 when the node died or answered differently.
struct wire_bench_options {
  uint64_t frames = 1000000;
  uint64_t check_every = 100000;  // frames between liveness and RSS samples
  uint64_t seed = 1;
  std::string capture_dir;  // also write the captured streams here (fuzzer seeds)
};
int run_wire_bench(const wire_bench_options& options, std::ostream& out);

// `corolla bench spot`: spot checks' extra compute per fraction on an honest swarm, and
// how many steps a liar among three servers of the whole model lasts.
struct spot_bench_options {
  std::string model_path;  // empty: as generate_bench_options
  int steps = 200;         // decode steps per session
  std::vector<double> fractions = {0.01, 0.1};
  int64_t lie_every = 50;
  int sessions = 5;  // liar sessions per fraction
  int64_t ban_within = 200;
};
int run_spot_bench(const spot_bench_options& options, std::ostream& out);

// The prompt every model bench decodes after.
extern const char* const bench_prompt;

// Decode tokens/s of the single-process generator on bench_prompt (after a warm-up), of
// the model at `path` or of one already loaded.
double single_process_rate(const std::string& path, int tokens);
double single_process_rate(const llama_model& model, int tokens);

// `given`, or demo/tinyllama-1.1b-q8_0.gguf, made by the model maker when absent.
result<std::string> bench_model(const std::string& given);

// Generates greedily after `prompt_tokens` seeded random tokens, in fresh caches,
// through the generator's real path. With max_tokens = 1 its prompt_ms is the prefill.
result<generation_stats> run_random_prompt(const llama_model& m, int64_t prompt_tokens,
                                           int32_t max_tokens, uint64_t seed);

// The number of blocks of the model in `path` (its GGUF header), or why it can not be read.
result<int64_t> model_blocks(const std::string& path);

// Read-only memory bandwidth in GB/s with `threads` OpenMP threads: the best of a few
// passes summing a buffer of `bytes` (well past the L3).
double read_bandwidth_gbs(int threads, size_t bytes = size_t(1) << 30);

}  // namespace corolla
