#include "model/model_maker.hpp"

#include "model/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "model/gguf_file.hpp"
#include "model/gguf_writer.hpp"
#include "model/unicode.hpp"

namespace corolla {
namespace {

// The text the synthetic vocabulary's merges are learned from: plain English in
// the register of the demo prompts, so common words become single tokens.
const char kCorpus[] =
    "Once upon a time there was a little girl named Lily. She lived in a small house "
    "near the big park with her mom and dad. Every day Lily wanted to play with her red "
    "ball. One day the sun was bright and the sky was blue, so she went to the park. "
    "In the park she saw a dog. The dog was happy and it ran to her. Lily said, hello "
    "dog, do you want to play with me? The dog barked and jumped. They played all day "
    "and had a lot of fun. Then Tom and Sue came to the park. They were friends of "
    "Lily. Tom had a big kite and Sue had a little boat. They all went to the pond to "
    "see the fish. The cat sat on the wall and looked at the birds in the tree. The "
    "birds sang a song. Lily was very happy. She said, thank you for playing with me. "
    "When the sun went down, they went home. Mom made a warm dinner and Lily told her "
    "about the dog, the kite and the boat. Mom smiled and said, that sounds like a good "
    "day. Lily went to bed and dreamed about the park. The next morning it was rainy. "
    "Lily could not go out, so she sat by the window and watched the rain. She saw a "
    "frog jump in the water. The frog was green and small. Lily laughed and wanted to "
    "help the frog find its way home. She put on her boots and her coat and went "
    "outside with her dad. They found the frog near the big tree and carried it to the "
    "pond. The frog said thank you and swam away. Lily learned that it is good to help "
    "others, even a little frog. From that day on, she always looked for friends who "
    "needed help. The end.";

// Printable ASCII plus U+2581: every character of ordinary English text.
std::vector<std::string> alphabet() {
  std::vector<std::string> a;
  for (char c = '!'; c <= '~'; ++c) a.emplace_back(1, c);
  a.emplace_back(kSentencePieceSpace);
  return a;
}

constexpr int kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeByte = 6;

// splitmix64's finaliser: a good 64-bit mix, so value i of a stream is mix(key + i).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ mix(seed);
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return mix(h);
}

// A value uniform in [-1, 1) from the stream `key`, position `i`.
float uniform_pm1(uint64_t key, uint64_t i) {
  return float(double(mix(key + i) >> 11) * 0x1.0p-52 - 1.0);
}

// Byte-pair merges learned on kCorpus, most frequent first (ties: the
// lexicographically smallest pair), until `limit` or no pair occurs twice.
std::vector<std::string> learn_merges(size_t limit) {
  std::map<std::string, int> words;
  std::string text = kCorpus, word;
  for (char c : text + " ") {
    if (c == ' ') {
      if (!word.empty()) ++words[kSentencePieceSpace + word];
      word.clear();
    } else {
      word += c;
    }
  }
  // Each word as a list of symbols (the U+2581 mark is one symbol).
  std::vector<std::pair<std::vector<std::string>, int>> split;
  for (const auto& [w, count] : words) {
    std::vector<std::string> symbols{kSentencePieceSpace};
    for (size_t i = 3; i < w.size(); ++i) symbols.emplace_back(1, w[i]);
    split.emplace_back(std::move(symbols), count);
  }
  std::vector<std::string> merges;
  while (merges.size() < limit) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [symbols, count] : split) {
      for (size_t i = 1; i < symbols.size(); ++i) pairs[{symbols[i - 1], symbols[i]}] += count;
    }
    auto best = pairs.end();
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
      if (best == pairs.end() || it->second > best->second) best = it;
    }
    if (best == pairs.end() || best->second < 2) break;
    const auto [left, right] = best->first;
    merges.push_back(left + right);
    for (auto& [symbols, count] : split) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          merged.push_back(left + right);
          ++i;
        } else {
          merged.push_back(symbols[i]);
        }
      }
      symbols = std::move(merged);
    }
  }
  return merges;
}

status check_shape(const llama_config& s) {
  auto positive = [](int64_t v, const char* name) {
    return v > 0 ? status()
                 : status::invalid_argument(std::string(name) + " must be positive (got " +
                                            std::to_string(v) + ")");
  };
  COROLLA_RETURN_IF_ERROR(positive(s.dim, "dim"));
  COROLLA_RETURN_IF_ERROR(positive(s.hidden_dim, "hidden"));
  COROLLA_RETURN_IF_ERROR(positive(s.n_blocks, "layers"));
  COROLLA_RETURN_IF_ERROR(positive(s.n_heads, "heads"));
  COROLLA_RETURN_IF_ERROR(positive(s.n_kv_heads, "kv-heads"));
  COROLLA_RETURN_IF_ERROR(positive(s.context_length, "context"));
  if (s.key_length == 0 && s.dim % s.n_heads != 0) {
    return status::invalid_argument("dim " + std::to_string(s.dim) +
                                    " is not a multiple of heads " + std::to_string(s.n_heads));
  }
  if (s.n_heads % s.n_kv_heads != 0) {
    return status::invalid_argument("heads " + std::to_string(s.n_heads) +
                                    " is not a multiple of kv-heads " +
                                    std::to_string(s.n_kv_heads));
  }
  if (s.head_dim() % 2 != 0) {
    return status::invalid_argument("head dimension " + std::to_string(s.head_dim()) +
                                    " must be even for RoPE");
  }
  if (!(s.rope_freq_base > 0)) return status::invalid_argument("rope-base must be positive");
  return status();
}

}  // namespace

std::vector<std::string> maker_preset_names() {
  return {"stories260k", "tinyllama-1.1b", "tiny"};
}

result<llama_config> maker_preset(const std::string& name) {
  llama_config c;
  if (name == "stories260k") {
    c.dim = 64, c.hidden_dim = 172, c.n_blocks = 5, c.n_heads = 8, c.n_kv_heads = 4;
    c.vocab_size = 512;
  } else if (name == "tinyllama-1.1b") {
    c.dim = 2048, c.hidden_dim = 5632, c.n_blocks = 22, c.n_heads = 32, c.n_kv_heads = 4;
    c.vocab_size = 32000;
  } else if (name == "tiny") {  // quick tests: every dimension a multiple of 32
    c.dim = 128, c.hidden_dim = 384, c.n_blocks = 4, c.n_heads = 4, c.n_kv_heads = 2;
    c.vocab_size = 512;
  } else {
    std::string names;
    for (const auto& n : maker_preset_names()) names += (names.empty() ? "" : ", ") + n;
    return status::not_found("unknown preset '" + name + "' (presets: " + names + ")");
  }
  c.rope_dim = c.head_dim();
  c.context_length = 2048;
  c.rope_freq_base = 10000.0f;
  c.rms_eps = 1e-5f;
  return c;
}

result<synthetic_vocabulary> make_synthetic_vocabulary(int64_t size, uint64_t seed) {
  synthetic_vocabulary v;
  auto add = [&](std::string text, float score, int32_t type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, kTypeUnknown);
  add("<s>", 0.0f, kTypeControl);
  add("</s>", 0.0f, kTypeControl);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    add(name, 0.0f, kTypeByte);
  }
  const std::vector<std::string> chars = alphabet();
  const int64_t minimum = int64_t(v.tokens.size() + chars.size());
  if (size < minimum) {
    return status::invalid_argument("vocab " + std::to_string(size) +
                                    " is too small: the synthetic "
                                    "vocabulary needs at least " +
                                    std::to_string(minimum) +
                                    " tokens (specials, 256 bytes, printable ASCII)");
  }
  std::unordered_set<std::string> known(v.tokens.begin(), v.tokens.end());
  for (const auto& c : chars) {
    add(c, -1e6f, kTypeNormal);  // single characters never outrank a merge
    known.insert(c);
  }
  // Merges score by order: the first learned merges first.
  float score = -1.0f;
  std::vector<std::string> mergeable = chars;
  for (auto& m : learn_merges(size_t(size - int64_t(v.tokens.size())))) {
    if (!known.insert(m).second) continue;
    mergeable.push_back(m);
    add(std::move(m), score, kTypeNormal);
    score -= 1.0f;
  }
  // Fill with seeded concatenations of existing pieces: each is reachable by one merge.
  for (uint64_t i = 0; int64_t(v.tokens.size()) < size; ++i) {
    const std::string& a = mergeable[mix(seed * 2 + i * 0x10001) % mergeable.size()];
    const std::string& b = mergeable[mix(seed * 2 + i * 0x10001 + 1) % mergeable.size()];
    std::string m = a + b;
    if (m.size() > 16 || !known.insert(m).second) continue;
    mergeable.push_back(m);
    add(std::move(m), score, kTypeNormal);
    score -= 1.0f;
  }
  return v;
}

namespace {

struct named_type {
  const char* name;
  ggml_type type;
  bool medium_mix;
  uint32_t file_type;  // llama.cpp's llama_ftype
};
constexpr named_type kTypes[] = {
    {"f32", ggml_type::f32, false, 0},     {"f16", ggml_type::f16, false, 1},
    {"q8_0", ggml_type::q8_0, false, 7},   {"q4_0", ggml_type::q4_0, false, 2},
    {"q4_1", ggml_type::q4_1, false, 3},   {"q5_0", ggml_type::q5_0, false, 8},
    {"q5_1", ggml_type::q5_1, false, 9},   {"q4_k_s", ggml_type::q4_k, false, 14},
    {"q4_k_m", ggml_type::q4_k, true, 15}, {"q5_k_s", ggml_type::q5_k, false, 16},
    {"q5_k_m", ggml_type::q5_k, true, 17}, {"q6_k", ggml_type::q6_k, false, 18},
};

std::string maker_type_names() {
  std::string names;
  for (const named_type& t : kTypes) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

uint32_t file_type_of(ggml_type type, bool medium_mix) {
  for (const named_type& t : kTypes) {
    if (t.type == type && t.medium_mix == medium_mix) return t.file_type;
  }
  return 0;
}

// llama.cpp's use_more_bits: the first and last eighth of the blocks, and every third.
bool gets_more_bits(int64_t block, int64_t n_blocks) {
  return block < n_blocks / 8 || block >= 7 * n_blocks / 8 || (block - n_blocks / 8) % 3 == 2;
}

}  // namespace

result<std::pair<ggml_type, bool>> maker_type_from_name(const std::string& name) {
  std::string lower;
  for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
  for (const named_type& t : kTypes) {
    if (lower == t.name) return std::make_pair(t.type, t.medium_mix);
  }
  return status::invalid_argument("weight type '" + name + "' is not one of " + maker_type_names());
}

status make_model(const maker_options& options, const std::string& path) {
  llama_config shape = options.shape;
  COROLLA_RETURN_IF_ERROR(check_shape(shape));
  if (!is_writable_type(options.type) || options.type == ggml_type::bf16 ||
      (options.medium_mix && options.type != ggml_type::q4_k && options.type != ggml_type::q5_k)) {
    return status::invalid_argument("type must be one of " + maker_type_names());
  }

  gguf_writer w;
  w.set("general.architecture", gguf_value::str(to_string(shape.arch)));
  w.set("general.name", gguf_value::str(options.name));
  w.set("general.file_type", gguf_value::u32(file_type_of(options.type, options.medium_mix)));
  w.set("corolla.maker.seed", gguf_value::of_uint(gguf_type::u64, options.seed));

  if (!options.vocab_from.empty()) {
    auto source = gguf_file::open(options.vocab_from);
    if (!source) return source.error();
    bool any = false;
    for (const auto& [key, value] : source->metadata()) {
      if (key.rfind("tokenizer.", 0) == 0) {
        w.set(key, value);
        any = true;
      }
    }
    auto tokens = source->get_array("tokenizer.ggml.tokens", gguf_type::string);
    if (!any || !tokens) {
      return status::invalid_argument(options.vocab_from + ": has no tokenizer to copy (" +
                                      (tokens ? "no tokenizer keys" : tokens.error().message()) +
                                      ")");
    }
    shape.vocab_size = int64_t((*tokens)->size());
  } else {
    auto vocab = make_synthetic_vocabulary(shape.vocab_size, options.seed);
    if (!vocab) return vocab.error();
    w.set("tokenizer.ggml.model", gguf_value::str("llama"));
    w.set("tokenizer.ggml.tokens", gguf_value::strings(vocab->tokens));
    w.set("tokenizer.ggml.scores", gguf_value::f32s(vocab->scores));
    w.set("tokenizer.ggml.token_type", gguf_value::i32s(vocab->types));
    w.set("tokenizer.ggml.bos_token_id", gguf_value::u32(1));
    w.set("tokenizer.ggml.eos_token_id", gguf_value::u32(2));
    w.set("tokenizer.ggml.unknown_token_id", gguf_value::u32(0));
    w.set("tokenizer.ggml.add_bos_token", gguf_value::of_bool(true));
    w.set("tokenizer.ggml.add_space_prefix", gguf_value::of_bool(true));
  }
  if (shape.vocab_size <= 0) return status::invalid_argument("vocab must be positive");

  const std::string arch = to_string(shape.arch);
  auto key = [&](const char* name) { return arch + "." + name; };
  w.set(key("context_length"), gguf_value::u32(uint32_t(shape.context_length)));
  w.set(key("embedding_length"), gguf_value::u32(uint32_t(shape.dim)));
  w.set(key("block_count"), gguf_value::u32(uint32_t(shape.n_blocks)));
  w.set(key("feed_forward_length"), gguf_value::u32(uint32_t(shape.hidden_dim)));
  w.set(key("rope.dimension_count"), gguf_value::u32(uint32_t(shape.head_dim())));
  w.set(key("attention.head_count"), gguf_value::u32(uint32_t(shape.n_heads)));
  w.set(key("attention.head_count_kv"), gguf_value::u32(uint32_t(shape.n_kv_heads)));
  if (shape.key_length > 0) {
    w.set(key("attention.key_length"), gguf_value::u32(uint32_t(shape.key_length)));
    w.set(key("attention.value_length"), gguf_value::u32(uint32_t(shape.key_length)));
  }
  w.set(key("attention.layer_norm_rms_epsilon"), gguf_value::f32(shape.rms_eps));
  w.set(key("rope.freq_base"), gguf_value::f32(shape.rope_freq_base));
  if (shape.sliding_window > 0) {
    w.set(key("attention.sliding_window"), gguf_value::u32(uint32_t(shape.sliding_window)));
  }
  if (shape.arch == model_arch::gemma2) {
    w.set(key("attn_logit_softcapping"), gguf_value::f32(shape.attention_softcap));
    w.set(key("final_logit_softcapping"), gguf_value::f32(shape.logit_softcap));
  }

  const uint64_t seed = options.seed;
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, ggml_type wanted) {
    const int64_t block = ggml_type_info_of(uint32_t(wanted))->block_size;
    const ggml_type type = cols % block == 0 ? wanted
                           : cols % 32 == 0  ? ggml_type::q8_0
                                             : ggml_type::f32;
    const uint64_t key_of_name = hash_name(name, seed);
    const float scale = float(std::sqrt(3.0 / double(cols)));  // uniform: std = 1/sqrt(cols)
    return w.add_tensor(name, {cols, rows}, type,
                        [key_of_name, cols, scale](int64_t r, float* out) {
                          const uint64_t base = uint64_t(r) * uint64_t(cols);
                          for (int64_t i = 0; i < cols; ++i)
                            out[i] = scale * uniform_pm1(key_of_name, base + uint64_t(i));
                        });
  };
  // Norm weights 1 +- 0.1; biases +- 0.1.
  auto vector = [&](const std::string& name, int64_t n, float centre) {
    const uint64_t key_of_name = hash_name(name, seed);
    return w.add_tensor(name, {n}, ggml_type::f32, [key_of_name, n, centre](int64_t, float* out) {
      for (int64_t i = 0; i < n; ++i)
        out[i] = centre + 0.1f * uniform_pm1(key_of_name, uint64_t(i));
    });
  };

  COROLLA_RETURN_IF_ERROR(matrix("token_embd.weight", shape.dim, shape.vocab_size, options.type));
  const std::vector<block_tensor> tensors = block_tensors(shape);
  for (int64_t b = 0; b < shape.n_blocks; ++b) {
    for (const block_tensor& t : tensors) {
      if (!t.required) continue;
      const std::string name = block_tensor_name(b, t.suffix);
      if (t.shape.size() == 2) {
        const std::string suffix = t.suffix;
        const bool more_bits = options.medium_mix &&
                               (suffix == "attn_v.weight" || suffix == "ffn_down.weight") &&
                               gets_more_bits(b, shape.n_blocks);
        COROLLA_RETURN_IF_ERROR(
            matrix(name, t.shape[0], t.shape[1], more_bits ? ggml_type::q6_k : options.type));
      } else {
        const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        COROLLA_RETURN_IF_ERROR(vector(name, t.shape[0], bias ? 0.0f : 1.0f));
      }
    }
  }
  COROLLA_RETURN_IF_ERROR(vector("output_norm.weight", shape.dim, 1.0f));
  const bool tied = shape.arch == model_arch::gemma2 || shape.arch == model_arch::gemma3;
  if (!tied) {
    COROLLA_RETURN_IF_ERROR(matrix("output.weight", shape.dim, shape.vocab_size,
                                   options.medium_mix ? ggml_type::q6_k : options.type));
  }
  return w.write_file(path);
}

status make_preset_model(const std::string& preset, ggml_type type, uint64_t seed,
                         const std::string& path, bool medium_mix) {
  maker_options m;
  COROLLA_ASSIGN_OR_RETURN(m.shape, maker_preset(preset));
  m.type = type;
  m.medium_mix = medium_mix;
  m.seed = seed;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!folder.empty()) std::filesystem::create_directories(folder, ec);
  if (ec) return status::io_error(folder.string() + ": " + ec.message());
  return make_model(m, path);
}

}  // namespace corolla
