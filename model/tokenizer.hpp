// tokenizer: text <-> token ids as llama.cpp does it, from a GGUF's tokenizer.* keys.
//
// Two models, chosen by tokenizer.ggml.model:
//  - "llama": SentencePiece-style. Spaces become U+2581, a leading space is added
//    when add_space_prefix (default on), UTF-8 characters merge pairwise by the
//    highest score (ties: leftmost), and pieces without a token fall back to
//    <0xNN> byte tokens (llama.cpp's llm_tokenizer_spm).
//  - "gpt2": byte-level BPE (Llama 3, Qwen2, SmolLM). Text is split by the
//    pre-tokenizer named in tokenizer.ggml.pre (pretokenizer.hpp; a missing or unknown
//    name is refused), each piece's bytes are mapped to printable code points, and
//    pairs merge by merge rank (lowest first, ties leftmost); with Llama 3, a piece
//    that is itself a token is kept whole.
// Special tokens (control and user-defined types) are recognised in the text
// when parse_special is set; user-defined ones always.
// Invariants: every id returned by encode() is in [0, size()); decode() of any
// valid id sequence is well-defined (bytes, possibly not valid UTF-8 — use
// token_stream for display).
// Thread safety: immutable after from_gguf(); const methods may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/gguf_file.hpp"
#include "model/pretokenizer.hpp"
#include "model/status.hpp"

namespace corolla {

// Token types as llama.cpp's tokenizer.ggml.token_type stores them.
enum class token_type : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

enum class tokenizer_kind { spm, bpe };

// What encode() and decode() work from; from_gguf() fills it, tests may build one.
struct vocabulary {
  tokenizer_kind kind = tokenizer_kind::spm;
  std::vector<std::string> tokens;
  std::vector<float> scores;  // spm merge priority (higher merges first)
  std::vector<token_type> types;
  std::vector<std::string> merges;  // bpe: "left right", rank = index
  std::string pre = "llama-bpe";    // bpe pre-tokenizer name (tokenizer.ggml.pre)
  int32_t bos = -1, eos = -1, unk = -1, eot = -1;
  bool add_bos = true;
  bool add_space_prefix = true;
  // Special tokens swallow the white space after them (Phi-3's tokenizer.json says
  // rstrip for its added tokens; llama.cpp sets it by model name), except <unk>, <s>
  // and <|endoftext|>.
  bool specials_rstrip = false;
};

class tokenizer {
 public:
  // Errors: not_found for a missing tokenizer key, not_supported for an unknown
  // tokenizer.ggml.model, corruption for inconsistent arrays or ids; each names
  // the file and key.
  static result<tokenizer> from_gguf(const gguf_file& file);
  // Errors: corruption when arrays disagree in length or an id is out of range.
  static result<tokenizer> from_vocabulary(vocabulary v);

  // The ids of `text`, BOS first when add_bos and the vocabulary wants one.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // The bytes token `id` stands for: control tokens give "", byte tokens their
  // byte, SentencePiece's U+2581 becomes a space. Out-of-range ids give "".
  std::string piece(int32_t id) const;
  // Concatenated pieces; drops the space SentencePiece added in front of the
  // first piece when strip_leading_space.
  std::string decode(const std::vector<int32_t>& ids, bool strip_leading_space = false) const;

  int32_t size() const { return int32_t(vocab_.tokens.size()); }
  const vocabulary& vocab() const { return vocab_; }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  // True for ids that end a generation (EOS, end-of-turn).
  bool is_end_of_generation(int32_t id) const;
  // The id of a token with exactly this text, or -1.
  int32_t find(std::string_view text) const;

  tokenizer(tokenizer&&) noexcept;
  tokenizer& operator=(tokenizer&&) noexcept;
  ~tokenizer();

 private:
  tokenizer();
  void encode_text(std::string_view text, bool first_fragment, std::vector<int32_t>& out) const;
  void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const;
  int32_t byte_token(uint8_t byte) const;

  vocabulary vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  // bpe: "left right" -> rank.
  std::unordered_map<std::string, int32_t> merge_ranks_;
  // Special tokens to split out of text, longest first: (text, id, always).
  struct special {
    std::string text;
    int32_t id;
    bool always;  // user-defined: split even without parse_special
    bool rstrip;  // white space after it is dropped
  };
  std::vector<special> specials_;
  pretokenizer pre_kind_ = pretokenizer::llama3;  // bpe
  bool ignore_merges_ = true;                     // bpe: whole-token pre-tokens skip merges
};

// Turns a stream of token ids into displayable text without ever emitting half a
// UTF-8 sequence: bytes of an unfinished character are held until it completes,
// invalid bytes become U+FFFD. Not thread-safe; one per generation.
class token_stream {
 public:
  explicit token_stream(const tokenizer& tok, bool strip_leading_space = false)
      : tok_(tok), strip_(strip_leading_space) {}
  // Text that became complete with token `id` (often the whole piece, sometimes "").
  std::string push(int32_t id);
  // Whatever is held back, with unfinished sequences as U+FFFD.
  std::string flush();

 private:
  const tokenizer& tok_;
  bool strip_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace corolla
