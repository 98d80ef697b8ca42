#include "apps/command_line.hpp"

#include <omp.h>

#include <algorithm>
#include <thread>

#include <algorithm>
#include <iostream>

#include "messages/protocol.hpp"

namespace corolla {

std::optional<int> parse_command_line(const boost::program_options::options_description& options,
                                      const std::vector<std::string>& args,
                                      const std::string& command, std::ostream& out,
                                      boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    out << options << "\n";
    return 0;
  }
  return std::nullopt;
}

std::string version_text(const std::string& program) {
  return program + " " + COROLLA_VERSION + " (Corolla, protocol " +
         std::to_string(protocol_version) + ")";
}

bool wants_version(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& a) { return a == "--version" || a == "-V"; });
}

void add_precision_options(boost::program_options::options_description& options,
                           std::string& weights, std::string* kv) {
  if (kv != nullptr) {
    options.add_options()("kv-type", boost::program_options::value(kv)->default_value("auto"),
                          "the KV cache's type (llama.cpp's -ctk/-ctv): f16, f32, q8_0, or auto: "
                          "f16 on the fast kernels, f32 with --f32");
  }
  options.add_options()(
      "weights", boost::program_options::value(&weights)->default_value("native"),
      "native: weights stored in Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K stay at their "
      "bits (the rest int8); int8: every weight converted to int8")(
      "f32", "run the f32 reference kernels instead (dequantised weights)");
}

bool kv_from_options(const std::string& kv, const std::string& command,
                     std::optional<kv_type>& out) {
  if (kv == "auto") {
    out.reset();
    return true;
  }
  out = kv_type_from_name(kv);
  if (!out) std::cerr << command << ": --kv-type '" << kv << "' is not auto, f16, f32 or q8_0\n";
  return out.has_value();
}

std::optional<precision> precision_from_options(const boost::program_options::variables_map& vm,
                                                const std::string& weights,
                                                const std::string& command) {
  const auto chosen = weights_from_name(weights);
  if (!chosen) {
    std::cerr << command << ": --weights '" << weights << "' is not native or int8\n";
    return std::nullopt;
  }
  return vm.count("f32") ? precision::f32 : *chosen;
}

int64_t max_threads() {
  return 4 * std::max<int64_t>(1, int64_t(std::thread::hardware_concurrency()));
}

bool use_threads(int64_t threads, const std::string& command) {
  if (threads < 0 || threads > max_threads()) {
    std::cerr << command << ": --threads " << threads << " is outside 0 (every core) .. "
              << max_threads() << " (4 per core)\n";
    return false;
  }
  if (threads > 0) omp_set_num_threads(int(threads));
  return true;
}

void add_speculation_options(boost::program_options::options_description& options,
                             int32_t& draft_tokens, std::string& draft_path) {
  namespace po = boost::program_options;
  options.add_options()(
      "draft-tokens", po::value(&draft_tokens)->default_value(0),
      "speculative decoding: up to this many tokens drafted a step and verified in one step; "
      "greedy text is unchanged, sampled tokens keep the model's distribution (0 = off, at "
      "most 16; 4 with --draft)")(
      "draft", po::value(&draft_path),
      "draft the tokens with this small GGUF model (the model's vocabulary), run in this "
      "process, rather than from the context");
}

bool load_draft_model(const boost::program_options::variables_map& vm,
                      const std::string& draft_path, int32_t& draft_tokens,
                      std::shared_ptr<const llama_model>& out, const std::string& command) {
  if (draft_path.empty()) return true;
  auto model = llama_model::load(draft_path, model_options{});
  if (!model.ok()) {
    std::cerr << command << ": --draft: " << model.error().message() << "\n";
    return false;
  }
  out = std::make_shared<const llama_model>(std::move(*model));
  if (vm["draft-tokens"].defaulted()) draft_tokens = 4;
  return true;
}

}  // namespace corolla
