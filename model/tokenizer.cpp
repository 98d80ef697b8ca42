#include "model/tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>

#include "model/pretokenizer.hpp"
#include "model/unicode.hpp"

namespace corolla {
namespace {

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

status read_token_id(const gguf_file& file, const char* key, int32_t n_tokens, int32_t& out) {
  const gguf_value* v = file.find(key);
  if (!v) return status();
  const auto id = v->as_uint();
  if (!id)
    return status::corruption(file.name() + ": metadata key '" + key + "' is not a token id");
  if (*id == 0xFFFFFFFFu) {  // llama.cpp writes this for "none"
    out = -1;
    return status();
  }
  if (*id >= uint64_t(n_tokens)) {
    return status::corruption(file.name() + ": metadata key '" + key + "' is " +
                              std::to_string(*id) + ", outside the vocabulary of " +
                              std::to_string(n_tokens) + " tokens");
  }
  out = int32_t(*id);
  return status();
}

status read_flag(const gguf_file& file, const char* key, bool& out) {
  if (!file.find(key)) return status();
  auto b = file.get_bool(key);
  if (!b) return b.error();
  out = *b;
  return status();
}

}  // namespace

tokenizer::tokenizer() = default;
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;
tokenizer::~tokenizer() = default;

result<tokenizer> tokenizer::from_gguf(const gguf_file& file) {
  vocabulary v;
  auto model = file.get_string("tokenizer.ggml.model");
  if (!model) return model.error();
  if (*model == "llama") {
    v.kind = tokenizer_kind::spm;
  } else if (*model == "gpt2") {
    v.kind = tokenizer_kind::bpe;
  } else {
    return status::not_supported(file.name() + ": tokenizer.ggml.model '" + *model +
                                 "' is not supported ('llama' and 'gpt2' are)");
  }
  auto tokens = file.get_array("tokenizer.ggml.tokens", gguf_type::string);
  if (!tokens) return tokens.error();
  for (const auto& t : **tokens) v.tokens.push_back(*t.as_string());
  const auto n = int32_t(v.tokens.size());
  if (n == 0) return status::corruption(file.name() + ": tokenizer.ggml.tokens is empty");

  if (file.find("tokenizer.ggml.scores")) {
    auto scores = file.get_array("tokenizer.ggml.scores", gguf_type::f32);
    if (!scores) return scores.error();
    for (const auto& s : **scores) v.scores.push_back(float(*s.as_float()));
  }
  if (file.find("tokenizer.ggml.token_type")) {
    auto types = file.get_array("tokenizer.ggml.token_type", gguf_type::i32);
    if (!types) return types.error();
    for (const auto& t : **types)
      v.types.push_back(static_cast<token_type>(t.as_int().value_or(1)));
  }
  if (v.kind == tokenizer_kind::bpe) {
    auto merges = file.get_array("tokenizer.ggml.merges", gguf_type::string);
    if (!merges) return merges.error();
    for (const auto& m : **merges) v.merges.push_back(*m.as_string());
    // Another family's expression splits text differently: refuse rather than guess.
    if (!file.find("tokenizer.ggml.pre")) {
      return status::not_supported(
          file.name() +
          ": tokenizer.ggml.pre is missing, so the BPE pre-tokenizer is unknown (llama.cpp "
          "guesses and warns that quality degrades; convert the model again with a current "
          "llama.cpp)");
    }
    auto pre = file.get_string("tokenizer.ggml.pre");
    if (!pre) return pre.error();
    v.pre = *pre;
    if (!pretokenizer_named(v.pre)) {
      return status::not_supported(file.name() + ": tokenizer.ggml.pre '" + v.pre +
                                   "' is not supported (" + known_pretokenizers() + " are)");
    }
    v.add_space_prefix = false;
  } else {
    v.bos = 1 < n ? 1 : -1;
    v.eos = 2 < n ? 2 : -1;
    v.unk = 0;
  }
  COROLLA_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.bos_token_id", n, v.bos));
  COROLLA_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.eos_token_id", n, v.eos));
  COROLLA_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.unknown_token_id", n, v.unk));
  COROLLA_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.eot_token_id", n, v.eot));
  // As llama.cpp decides it: by general.name; Corolla by the architecture as well.
  std::string name;
  if (auto general = file.get_string("general.name"); general.ok()) name = *general;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char ch) { return char(std::tolower(ch)); });
  auto arch = file.get_string("general.architecture");
  v.specials_rstrip = name.find("phi-3") != std::string::npos ||
                      name.find("phi3") != std::string::npos || (arch.ok() && *arch == "phi3");
  v.add_bos = v.bos >= 0;
  COROLLA_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_bos_token", v.add_bos));
  COROLLA_RETURN_IF_ERROR(read_flag(file, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));

  auto tok = from_vocabulary(std::move(v));
  if (!tok) return status::corruption(file.name() + ": " + tok.error().message());
  return tok;
}

result<tokenizer> tokenizer::from_vocabulary(vocabulary v) {
  const size_t n = v.tokens.size();
  if (n == 0) return status::corruption("tokenizer has no tokens");
  if (v.scores.empty()) v.scores.assign(n, 0.0f);
  if (v.types.empty()) v.types.assign(n, token_type::normal);
  if (v.scores.size() != n || v.types.size() != n) {
    return status::corruption("tokenizer arrays disagree: " + std::to_string(n) + " tokens, " +
                              std::to_string(v.scores.size()) + " scores, " +
                              std::to_string(v.types.size()) + " types");
  }
  for (int32_t id : {v.bos, v.eos, v.unk, v.eot}) {
    if (id >= int32_t(n))
      return status::corruption("special token id " + std::to_string(id) + " out of range");
  }

  tokenizer t;
  t.ids_.reserve(n);
  for (size_t i = 0; i < n; ++i) t.ids_.emplace(v.tokens[i], int32_t(i));  // first wins
  for (size_t i = 0; i < v.merges.size(); ++i) {
    const std::string& m = v.merges[i];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) {
      return status::corruption("tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m +
                                "' is not two pieces separated by a space");
    }
    t.merge_ranks_.emplace(m, int32_t(i));
  }
  for (size_t i = 0; i < n; ++i) {
    const token_type type = v.types[i];
    if (v.tokens[i].empty()) continue;
    if (type == token_type::control || type == token_type::user_defined ||
        type == token_type::unknown) {
      const std::string& text = v.tokens[i];
      const bool rstrip =
          (v.specials_rstrip && text != "<unk>" && text != "<s>" && text != "<|endoftext|>");
      t.specials_.push_back({text, int32_t(i), type == token_type::user_defined, rstrip});
    }
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(), [](const special& a, const special& b) {
    return a.text.size() > b.text.size();
  });
  if (v.kind == tokenizer_kind::bpe) {
    const auto choice = pretokenizer_named(v.pre);
    if (!choice) {
      return status::not_supported("BPE pre-tokenizer '" + v.pre + "' is not supported (" +
                                   known_pretokenizers() + " are)");
    }
    t.pre_kind_ = choice->kind;
    t.ignore_merges_ = choice->ignore_merges;
  }
  t.vocab_ = std::move(v);
  return t;
}

int32_t tokenizer::find(std::string_view text) const {
  auto it = ids_.find(std::string(text));
  return it == ids_.end() ? -1 : it->second;
}

bool tokenizer::is_end_of_generation(int32_t id) const {
  if (id < 0) return false;
  if (id == vocab_.eos || id == vocab_.eot) return true;
  if (id >= size() || vocab_.types[size_t(id)] != token_type::control) return false;
  const std::string& text = vocab_.tokens[size_t(id)];
  return text == "<|eot_id|>" || text == "<|im_end|>" || text == "<|end_of_text|>" ||
         text == "<|end|>" || text == "<end_of_turn>" || text == "<|endoftext|>";
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);

  // Split out special tokens, leftmost first, longest first at one position.
  bool prev_special =
      true;  // llama.cpp: text at the start or after a special gets the space prefix
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const special* hit = nullptr;
    for (const auto& s : specials_) {
      if ((s.always || parse_special) && text.compare(i, s.text.size(), s.text) == 0) {
        hit = &s;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > start) {
      encode_text(text.substr(start, i - start), prev_special, out);
    }
    out.push_back(hit->id);
    prev_special = true;
    i += hit->text.size();
    if (hit->rstrip) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    }
    start = i;
  }
  if (start < text.size()) encode_text(text.substr(start), prev_special, out);
  return out;
}

void tokenizer::encode_text(std::string_view text, bool after_special,
                            std::vector<int32_t>& out) const {
  if (vocab_.kind == tokenizer_kind::spm) {
    std::string escaped = (vocab_.add_space_prefix && after_special) ? " " : "";
    escaped += text;
    encode_spm(replace_all(escaped, " ", kSentencePieceSpace), out);
    return;
  }
  for (const std::string& word : pretokenize(text, pre_kind_)) {
    encode_bpe_word(bytes_to_byte_level(word), out);
  }
}

int32_t tokenizer::byte_token(uint8_t byte) const {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", byte);
  if (int32_t id = find(name); id >= 0) return id;
  if (int32_t id = find(std::string(1, char(byte))); id >= 0) return id;
  return vocab_.unk;
}

std::string tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= size()) return "";
  const std::string& text = vocab_.tokens[size_t(id)];
  switch (vocab_.types[size_t(id)]) {
    case token_type::control:
    case token_type::unused:
      return "";
    case token_type::unknown:
      return vocab_.kind == tokenizer_kind::spm ? "\xE2\x96\x85" : "";
    case token_type::byte:
      if (vocab_.kind == tokenizer_kind::spm && text.size() == 6 &&
          text.compare(0, 3, "<0x") == 0) {
        return std::string(1, char(std::stoi(text.substr(3, 2), nullptr, 16)));
      }
      break;
    case token_type::user_defined:
      return text;
    default:
      break;
  }
  if (vocab_.kind == tokenizer_kind::spm) return replace_all(text, kSentencePieceSpace, " ");
  std::string bytes;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const uint32_t cp = decode_utf8(p, end);
    const int b = code_point_to_byte(cp);
    if (b >= 0)
      bytes += char(b);
    else
      append_utf8(bytes, cp);
  }
  return bytes;
}

std::string tokenizer::decode(const std::vector<int32_t>& ids, bool strip_leading_space) const {
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    std::string p = piece(id);
    if (p.empty()) continue;
    if (strip_leading_space && first && p[0] == ' ') p.erase(0, 1);
    first = false;
    out += p;
  }
  return out;
}

std::string token_stream::push(int32_t id) {
  std::string p = tok_.piece(id);
  if (strip_ && first_ && !p.empty()) {
    if (p[0] == ' ') p.erase(0, 1);
    first_ = false;
  }
  pending_ += p;
  const size_t complete = complete_utf8_prefix(pending_);
  // Re-encode the complete part so invalid bytes become U+FFFD, never raw.
  std::string out;
  const char* s = pending_.data();
  const char* end = s + complete;
  while (s < end) append_utf8(out, decode_utf8(s, end));
  pending_.erase(0, complete);
  return out;
}

std::string token_stream::flush() {
  std::string out;
  const char* s = pending_.data();
  const char* end = s + pending_.size();
  while (s < end) append_utf8(out, decode_utf8(s, end));
  pending_.clear();
  return out;
}

}  // namespace corolla
