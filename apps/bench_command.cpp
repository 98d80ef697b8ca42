#include "apps/bench_command.hpp"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "apps/command_line.hpp"
#include "bench/bench_commands.hpp"
#include "messages/tensor_codec.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

// --help and --model, for the suites that run a model.
po::options_description model_suite_options(const char* caption, std::string& model_path) {
  po::options_description opts(caption);
  opts.add_options()("help,h", "show this help")(
      "model,m", po::value(&model_path),
      "GGUF to run (default: demo/tinyllama-1.1b-q8_0.gguf, made by the model maker if absent)");
  return opts;
}

}  // namespace

int run_bench(const std::vector<std::string>& args, std::ostream& out) {
  const std::string suite = args.empty() ? "" : args[0];
  const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  po::variables_map vm;
  if (suite == "kernels") {
    kernel_bench_options options;
    po::options_description opts("corolla bench kernels");
    opts.add_options()("help,h", "show this help")(
        "iterations", po::value(&options.iterations)->default_value(200), "GEMV calls per shape");
    if (auto done = parse_command_line(opts, rest, "corolla bench kernels", out, vm)) return *done;
    return run_kernel_bench(options, out);
  }
  if (suite == "generate") {
    generate_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench generate [--model FILE]", options.model_path);
    opts.add_options()("decode-tokens", po::value(&options.decode_tokens)->default_value(128),
                       "decode steps to time");
    if (auto done = parse_command_line(opts, rest, "corolla bench generate", out, vm)) {
      return *done;
    }
    return run_generate_bench(options, out);
  }
  if (suite == "sessions") {
    session_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench sessions [--model FILE]", options.model_path);
    opts.add_options()("decode-tokens", po::value(&options.decode_tokens)->default_value(32),
                       "decode steps per session")(
        "servers", po::value(&options.servers)->default_value(3), "servers splitting the blocks")(
        "sessions", po::value(&options.sessions)->multitoken(),
        "concurrent session counts (default: 1 2 4 8 16)");
    if (auto done = parse_command_line(opts, rest, "corolla bench sessions", out, vm)) {
      return *done;
    }
    if (options.sessions.empty()) options.sessions = {1, 2, 4, 8, 16};
    return run_session_bench(options, out);
  }
  if (suite == "swarm") {
    swarm_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench swarm [--model FILE]", options.model_path);
    opts.add_options()("decode-tokens", po::value(&options.decode_tokens)->default_value(32),
                       "decode steps timed per mode")("processes",
                                                      po::value(&options.processes)->multitoken(),
                                                      "actor-node process counts (default: 2 3)")(
        "latency-steps", po::value(&options.latency_steps)->default_value(100),
        "push steps whose per-hop latencies give p50 and p99")(
        "stories", po::value(&options.stories_path)->default_value(options.stories_path),
        "the model the codecs' logit error is measured on")(
        "swarm-key", po::value(&options.swarm_key_file),
        "run the nodes and the client as a private swarm with this key file");
    if (auto done = parse_command_line(opts, rest, "corolla bench swarm", out, vm)) return *done;
    if (options.processes.empty()) options.processes = {2, 3};
    return run_swarm_bench(options, out);
  }
  if (suite == "recovery") {
    recovery_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench recovery [--model FILE]", options.model_path);
    opts.add_options()("session-tokens", po::value(&options.session_tokens)->multitoken(),
                       "session lengths at the fault (default: 64 512 2048)")(
        "checkpoint-every", po::value(&options.checkpoint_every)->default_value(64),
        "kill -9 rows with standbys checkpointed every this many tokens (0: none)");
    if (auto done = parse_command_line(opts, rest, "corolla bench recovery", out, vm)) {
      return *done;
    }
    if (options.session_tokens.empty()) options.session_tokens = {64, 512, 2048};
    if (options.checkpoint_every < 0) {
      std::cerr << "corolla bench recovery: --checkpoint-every " << options.checkpoint_every
                << " is negative (0: no checkpoint rows)\n";
      return 2;
    }
    return run_recovery_bench(options, out);
  }
  if (suite == "wan") {
    wan_bench_options options;
    std::vector<int> servers;
    std::vector<int64_t> prompts;
    std::vector<std::string> links;
    std::string codec_name;
    po::options_description opts =
        model_suite_options("corolla bench wan [--model FILE]", options.model_path);
    opts.add_options()("decode-tokens", po::value(&options.decode_tokens)->default_value(16),
                       "greedy decode steps timed per row")(
        "servers", po::value(&servers)->multitoken(), "server counts (default: 1 2 3)")(
        "prompts", po::value(&prompts)->multitoken(),
        "prompt lengths timed to the first token (default: 128 512)")(
        "link", po::value(&links)->multitoken(),
        "LATENCY_MS:MBITS settings, one way (default: 0.5:1000 5:100 50:10)")(
        "draft-tokens", po::value(&options.draft_tokens)->default_value(0),
        "speculative decoding in the decode rows: tokens drafted a step (4 with --draft)")(
        "draft", po::value(&options.draft_path),
        "the decode rows' drafts from this model run in the client, not from the context")(
        "codec", po::value(&codec_name)->default_value("f16"),
        "hidden states between client and servers: f32, f16 or int8")(
        "prefill-chunk", po::value(&options.prefill_chunk)->default_value(128),
        "push rows send prompts down the route in chunks of this many tokens, beside a push "
        "row sending them whole (0: whole only)");
    if (auto done = parse_command_line(opts, rest, "corolla bench wan", out, vm)) return *done;
    if (!servers.empty()) options.servers = servers;
    if (!prompts.empty()) options.prompts = prompts;
    if (!links.empty()) options.settings.clear();
    for (const std::string& l : links) {
      wan_setting s;
      char tail = 0;
      if (std::sscanf(l.c_str(), "%lf:%lf%c", &s.latency_ms, &s.mbps, &tail) != 2 ||
          !(s.latency_ms >= 0) || !(s.mbps > 0)) {
        std::cerr << "corolla bench wan: --link '" << l
                  << "' is not LATENCY_MS:MBITS (latency >= 0, bandwidth > 0)\n";
        return 2;
      }
      options.settings.push_back(s);
    }
    if (!options.draft_path.empty() && vm["draft-tokens"].defaulted()) options.draft_tokens = 4;
    if (options.draft_tokens < 0 || options.draft_tokens > max_draft_tokens) {
      std::cerr << "corolla bench wan: --draft-tokens " << options.draft_tokens << " is not in 0.."
                << max_draft_tokens << "\n";
      return 2;
    }
    auto codec = parse_tensor_codec(codec_name);
    if (!codec.ok()) {
      std::cerr << "corolla bench wan: --codec: " << codec.error().message() << "\n";
      return 2;
    }
    options.codec = *codec;
    if (options.prefill_chunk < 0) {
      std::cerr << "corolla bench wan: --prefill-chunk " << options.prefill_chunk
                << " is negative\n";
      return 2;
    }
    for (int n : options.servers) {
      if (n < 1 || n > 8) {
        std::cerr << "corolla bench wan: --servers " << n << " is not in 1..8\n";
        return 2;
      }
    }
    for (int64_t p : options.prompts) {
      if (p < 1 || p > 4096) {
        std::cerr << "corolla bench wan: --prompts " << p << " is not in 1..4096\n";
        return 2;
      }
    }
    return run_wan_bench(options, out);
  }
  if (suite == "http") {
    http_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench http [--model FILE]", options.model_path);
    opts.add_options()("decode-tokens", po::value(&options.decode_tokens)->default_value(128),
                       "greedy tokens per answer")(
        "servers", po::value(&options.servers)->default_value(3), "servers splitting the blocks")(
        "concurrent", po::value(&options.concurrent)->default_value(16),
        "streams at once for the aggregate row");
    if (auto done = parse_command_line(opts, rest, "corolla bench http", out, vm)) return *done;
    return run_http_bench(options, out);
  }
  if (suite == "spot") {
    spot_bench_options options;
    po::options_description opts =
        model_suite_options("corolla bench spot [--model FILE]", options.model_path);
    std::vector<double> fractions;
    opts.add_options()("steps", po::value(&options.steps)->default_value(options.steps),
                       "greedy decode steps per session")(
        "fractions", po::value(&fractions)->multitoken(),
        "spot-check fractions (default: 0.01 0.1)")(
        "lie-every", po::value(&options.lie_every)->default_value(options.lie_every),
        "the liar alters one output in this many")(
        "sessions", po::value(&options.sessions)->default_value(options.sessions),
        "liar sessions per fraction")(
        "ban-within", po::value(&options.ban_within)->default_value(options.ban_within),
        "the steps a ban counts as in time");
    if (auto done = parse_command_line(opts, rest, "corolla bench spot", out, vm)) return *done;
    if (!fractions.empty()) options.fractions = fractions;
    for (double f : options.fractions) {
      if (!(f > 0 && f <= 1)) {
        std::cerr << "corolla bench spot: --fractions " << f << " is not in (0, 1]\n";
        return 2;
      }
    }
    if (options.steps < 1 || options.sessions < 1 || options.lie_every < 1) {
      std::cerr << "corolla bench spot: --steps, --sessions and --lie-every must be >= 1\n";
      return 2;
    }
    return run_spot_bench(options, out);
  }
  if (suite == "quant") {
    quant_bench_options options;
    po::options_description opts("corolla bench quant [--steps N] [--shared DIR]");
    opts.add_options()("help,h", "show this help")(
        "steps", po::value(&options.steps)->default_value(options.steps), "decode steps timed")(
        "shared", po::value(&options.shared_dir)->default_value(options.shared_dir),
        "folder with models/ and golden/ for the accuracy table");
    if (auto done = parse_command_line(opts, rest, "corolla bench quant", out, vm)) return *done;
    if (options.steps < 1) {
      std::cerr << "corolla bench quant: --steps must be >= 1\n";
      return 2;
    }
    return run_quant_bench(options, out);
  }
  if (suite == "wire") {
    wire_bench_options options;
    po::options_description opts("corolla bench wire [--frames N]");
    opts.add_options()("help,h", "show this help")(
        "frames", po::value(&options.frames)->default_value(options.frames),
        "fuzzed frames to send (0 with --capture: capture only)")(
        "check-every", po::value(&options.check_every)->default_value(options.check_every),
        "frames between liveness and RSS samples")(
        "seed", po::value(&options.seed)->default_value(options.seed), "mutation seed")(
        "capture", po::value(&options.capture_dir),
        "also write the captured real traffic here (the wire fuzzer's seeds)");
    if (auto done = parse_command_line(opts, rest, "corolla bench wire", out, vm)) return *done;
    if (options.check_every == 0) options.check_every = 1;
    return run_wire_bench(options, out);
  }
  std::cerr << "corolla bench: "
            << (suite.empty() ? "no suite given" : "unknown suite '" + suite + "'")
            << "; suites: kernels, generate, sessions, swarm, wan, recovery, http, spot, quant, "
               "wire\n";
  return 2;
}

}  // namespace corolla
