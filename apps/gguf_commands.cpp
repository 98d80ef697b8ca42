#include "apps/gguf_commands.hpp"

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "apps/command_line.hpp"
#include "model/block_weights.hpp"
#include "model/chat_template.hpp"
#include "model/gguf_file.hpp"
#include "model/head_file.hpp"
#include "model/llama_config.hpp"
#include "model/model_id.hpp"
#include "model/model_maker.hpp"
#include "model/tokenizer.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / double(1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

void print_llama(const gguf_file& file, std::ostream& out) {
  auto config = read_llama_config(file);
  if (!config) {
    out << "hyper-parameters: " << config.error().message() << "\n";
    return;
  }
  const llama_config& c = *config;
  out << "hyper-parameters:\n"
      << "  blocks " << c.n_blocks << ", dim " << c.dim << ", hidden " << c.hidden_dim << ", heads "
      << c.n_heads << " (kv " << c.n_kv_heads << ", head dim " << c.head_dim() << ")\n"
      << "  rope dims " << c.rope_dim << ", rope base " << c.rope_freq_base << ", rms eps "
      << c.rms_eps << ", context " << c.context_length << ", vocab " << c.vocab_size << "\n"
      << "  " << to_string(c.arch) << ": " << (c.rope_neox ? "NEOX" : "adjacent-pair") << " RoPE"
      << (c.rope_freq_factors.empty() ? "" : " with scaling")
      << (c.activation == ffn_activation::gelu ? ", GeGLU" : ", SwiGLU")
      << (c.qk_norm ? ", q/k norms" : "") << (c.post_norms ? ", post-norms" : "");
  if (c.sliding_window > 0) {
    out << ", sliding window " << c.sliding_window
        << (c.sliding_period == 0 ? " on every layer"
                                  : " on " + std::to_string(c.sliding_period - 1) + " of every " +
                                        std::to_string(c.sliding_period) + " layers");
  }
  if (c.attention_softcap > 0) out << ", attention soft-cap " << c.attention_softcap;
  if (c.logit_softcap > 0) out << ", logit soft-cap " << c.logit_softcap;
  if (c.embedding_scale != 1) out << ", embedding x" << c.embedding_scale;
  out << (ties_output(file, c) ? ", tied output" : "") << "\n";
  const status tensors = check_llama_tensors(file, c);
  out << "  tensors: " << (tensors.ok() ? "complete" : tensors.message()) << "\n";

  auto tok = tokenizer::from_gguf(file);
  if (!tok) {
    out << "tokenizer: " << tok.error().message() << "\n";
    return;
  }
  const auto& v = tok->vocab();
  out << "tokenizer: "
      << (v.kind == tokenizer_kind::spm ? "llama (SentencePiece)" : "gpt2 (byte-level BPE)") << ", "
      << tok->size() << " tokens, bos " << v.bos << ", eos " << v.eos;
  if (v.kind == tokenizer_kind::bpe) out << ", " << v.merges.size() << " merges, pre " << v.pre;
  const gguf_value* tmpl = file.find("tokenizer.chat_template");
  const std::string source = tmpl && tmpl->as_string() ? *tmpl->as_string() : "";
  const auto format = recognise_chat_template(source);
  out << ", chat template "
      << (source.empty() ? "none (plain completion)"
          : format       ? to_string(*format)
                         : "not recognised (chat runs as plain completion)")
      << "\n";
}

// Whether the whole load path accepts the file: hyper-parameters, every tensor and its
// type, the tokenizer. The first refusal is the reason.
status runnable(const gguf_file& file) {
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  COROLLA_RETURN_IF_ERROR(check_llama_tensors(file, config));
  COROLLA_ASSIGN_OR_RETURN(const tokenizer tok, tokenizer::from_gguf(file));
  (void)tok;
  return status();
}

}  // namespace

// What a node's blocks take in memory, per weights choice (what its memory budget,
// corolla plan and the balancer count), beside the file's bytes.
void print_block_memory(const gguf_file& f, std::ostream& out) {
  const auto config = read_llama_config(f);
  if (!config.ok() || config->n_blocks == 0) return;
  auto line = [&](const char* what, const std::vector<int64_t>& bytes) {
    int64_t total = 0;
    for (int64_t b : bytes) total += b;
    out << "  " << std::left << std::setw(18) << what << std::right
        << human_bytes(uint64_t(total / int64_t(bytes.size()))) << " per block, "
        << human_bytes(uint64_t(total)) << " for all " << bytes.size() << "\n";
  };
  out << "block memory:\n";
  line("in the file", block_file_bytes(f, *config));
  line("--weights native", block_resident_bytes(f, *config, precision::native));
  line("--weights int8", block_resident_bytes(f, *config, precision::int8));
}

int run_gguf_info(const std::vector<std::string>& args, std::ostream& out) {
  if (args.size() != 1 || args[0] == "--help" || args[0] == "-h") {
    std::cerr << "usage: corolla gguf info FILE\n";
    return args.size() == 1 ? 0 : 2;
  }
  auto file = gguf_file::open(args[0]);
  if (!file) {
    std::cerr << "corolla gguf info: " << file.error().to_string() << "\n";
    return 1;
  }
  const gguf_file& f = *file;
  out << f.name() << ": GGUF v" << f.version() << ", " << human_bytes(f.file_size()) << " ("
      << f.file_size() << " bytes), alignment " << f.alignment() << ", data at offset "
      << f.data_offset() << "\n";
  auto arch = f.get_string("general.architecture");
  out << "architecture: " << (arch ? *arch : "(none: " + arch.error().message() + ")") << "\n";
  if (arch) print_llama(f, out);
  if (is_head_file(f)) {
    out << "head file of model " << model_fingerprint(f)
        << ": embedding, final norm and LM head, no blocks (for a swarm's clients)\n";
  }
  const status verdict = runnable(f);
  out << "verdict: "
      << (verdict.ok() ? std::string(is_head_file(f) ? "Corolla's clients run this head file"
                                                     : "Corolla runs this file")
                       : "Corolla can not run this file: " + verdict.message())
      << " (model " << model_fingerprint(f) << ")\n";
  if (verdict.ok() && !is_head_file(f)) print_block_memory(f, out);

  out << "metadata (" << f.metadata().size() << "):\n";
  size_t i = 0;
  for (const auto& [key, value] : f.metadata()) {
    out << std::setw(5) << ++i << ": " << std::left << std::setw(42) << key << std::setw(7)
        << gguf_type_name(uint32_t(value.type())) << std::right << " " << value.to_display()
        << "\n";
  }

  out << "tensors (" << f.tensors().size() << "):\n"
      << "    #  " << std::left << std::setw(28) << "name" << std::setw(6) << "type"
      << std::setw(16) << "shape" << std::right << std::setw(12) << "elements" << std::setw(14)
      << "bytes" << std::setw(14) << "offset"
      << "\n";
  uint64_t total_bytes = 0;
  int64_t total_elements = 0;
  i = 0;
  for (const auto& t : f.tensors()) {
    out << std::setw(5) << i++ << "  " << std::left << std::setw(28) << t.name << std::setw(6)
        << ggml_type_name(t.type) << std::setw(16) << t.shape_string() << std::right
        << std::setw(12) << t.elements << std::setw(14) << t.bytes << std::setw(14)
        << f.data_offset() + t.offset << "\n";
    total_bytes += t.bytes;
    total_elements += t.elements;
  }
  out << "total: " << total_elements << " parameters, " << human_bytes(total_bytes)
      << " of tensor data\n";
  return 0;
}

int run_gguf_make(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts(
      "corolla gguf make (--preset NAME | --dim N ...) [--arch NAME] --type TYPE --seed N "
      "-o FILE");
  std::string preset, type = "f32", output, vocab_from, name, arch_name = "llama";
  int64_t head_dim = 0, window = -1;
  uint64_t seed = 1;
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, context = 0;
  float rope_base = 0;
  std::string presets;
  for (const auto& p : maker_preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  opts.add_options()("help,h", "show this help")(
      "preset", po::value(&preset), ("a named shape: " + presets).c_str())("dim", po::value(&dim),
                                                                           "embedding length")(
      "hidden", po::value(&hidden), "feed-forward length")("layers", po::value(&layers),
                                                           "transformer blocks")(
      "heads", po::value(&heads), "attention heads")("kv-heads", po::value(&kv_heads),
                                                     "key/value heads (default: heads)")(
      "vocab", po::value(&vocab), "vocabulary size (synthetic vocabulary)")(
      "context", po::value(&context), "context length in tokens (default 2048)")(
      "rope-base", po::value(&rope_base), "RoPE frequency base (default 10000)")(
      "arch", po::value(&arch_name),
      "architecture: llama, qwen2, qwen3, phi3, gemma2, gemma3 (default llama)")(
      "head-dim", po::value(&head_dim), "per-head dimension, when not dim / heads (Gemma, Qwen3)")(
      "sliding-window", po::value(&window),
      "keys a sliding layer sees (default: the family's; 0 = none)")(
      "type", po::value(&type),
      "weight type: f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k")(
      "seed", po::value(&seed), "random seed (same seed, same bytes)")(
      "vocab-from", po::value(&vocab_from), "copy the tokenizer of this GGUF")(
      "name", po::value(&name), "general.name to record")("output,o", po::value(&output),
                                                          "file to write");
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla gguf make", out, vm)) return *done;
  if (output.empty()) {
    std::cerr << "corolla gguf make: -o FILE is required\n";
    return 2;
  }

  maker_options m;
  if (!preset.empty()) {
    auto shape = maker_preset(preset);
    if (!shape) {
      std::cerr << "corolla gguf make: --preset: " << shape.error().message() << "\n";
      return 2;
    }
    m.shape = *shape;
  } else if (!dim || !hidden || !layers || !heads || (!vocab && vocab_from.empty())) {
    std::cerr << "corolla gguf make: give --preset, or all of --dim --hidden --layers --heads "
                 "--vocab (or --vocab-from)\n";
    return 2;
  }
  auto& s = m.shape;
  if (dim) s.dim = dim;
  if (hidden) s.hidden_dim = hidden;
  if (layers) s.n_blocks = layers;
  if (heads) s.n_heads = heads;
  if (kv_heads)
    s.n_kv_heads = kv_heads;
  else if (preset.empty())
    s.n_kv_heads = s.n_heads;
  if (vocab) s.vocab_size = vocab;
  if (context) s.context_length = context;
  if (rope_base > 0) s.rope_freq_base = rope_base;
  const auto arch = model_arch_named(arch_name);
  if (!arch) {
    std::cerr << "corolla gguf make: --arch '" << arch_name
              << "' is not one of llama, qwen2, qwen3, phi3, gemma2, gemma3\n";
    return 2;
  }
  s.arch = *arch;
  s.key_length = head_dim;
  set_family_defaults(s);
  if (window >= 0) s.sliding_window = window;
  if (s.n_heads > 0 && (s.key_length > 0 || s.dim % s.n_heads == 0)) s.rope_dim = s.head_dim();

  const auto t = maker_type_from_name(type);
  if (!t.ok()) {
    std::cerr << "corolla gguf make: --type: " << t.error().message() << "\n";
    return 2;
  }
  std::tie(m.type, m.medium_mix) = *t;
  m.seed = seed;
  m.vocab_from = vocab_from;
  m.name = name.empty() ? (preset.empty() ? "corolla-random" : preset + "-random") : name;

  const auto start = std::chrono::steady_clock::now();
  if (status st = make_model(m, output); !st.ok()) {
    std::cerr << "corolla gguf make: " << st.to_string() << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "wrote " << output << ": " << to_string(s.arch) << ", " << s.n_blocks << " blocks, dim "
      << s.dim << ", hidden " << s.hidden_dim << ", heads " << s.n_heads << "/" << s.n_kv_heads
      << ", " << type << ", seed " << seed << " (" << std::fixed << std::setprecision(2) << seconds
      << " s)\n";
  return 0;
}

int run_gguf_head(const std::vector<std::string>& args, std::ostream& out) {
  std::string model, output;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      output = args[++i];
    } else if (args[i] == "--help" || args[i] == "-h") {
      out << "usage: corolla gguf head MODEL -o FILE\n"
             "writes what a client of a swarm needs (token embedding, final norm, LM head,\n"
             "tokenizer, chat template) with the whole model's fingerprint\n";
      return 0;
    } else if (model.empty() && args[i][0] != '-') {
      model = args[i];
    } else {
      std::cerr << "corolla gguf head: unexpected argument '" << args[i] << "'\n";
      return 2;
    }
  }
  if (model.empty() || output.empty()) {
    std::cerr << "usage: corolla gguf head MODEL -o FILE\n";
    return 2;
  }
  if (status st = write_head_file(model, output); !st.ok()) {
    std::cerr << "corolla gguf head: " << st.message() << "\n";
    return 1;
  }
  auto whole = gguf_file::open(model);
  auto head = gguf_file::open(output);
  if (!whole.ok() || !head.ok()) {
    std::cerr << "corolla gguf head: wrote " << output << " but can not reopen it\n";
    return 1;
  }
  out << "wrote " << output << ": the head of " << model << " (model " << model_fingerprint(*head)
      << "), " << human_bytes(head->file_size()) << " of " << human_bytes(whole->file_size())
      << "\n";
  return 0;
}

}  // namespace corolla
