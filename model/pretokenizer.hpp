// Pre-tokenizers of byte-level BPE vocabularies: split text into the pieces that
// BPE merges within (never across). Hand-written matchers equivalent to the
// regular expressions llama.cpp uses, evaluated on code points:
//  llama3: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
//          \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  qwen2:  llama3's with \p{N} for \p{N}{1,3} (digits one by one)
//  gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//  digits_then_gpt2: \p{N} first (each digit a piece), then gpt2 within the rest
//          (StarCoder, SmolLM)
// Invariant: the pieces concatenate to the input, and none is empty.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corolla {

enum class pretokenizer { llama3, qwen2, gpt2, digits_then_gpt2 };

std::vector<std::string> pretokenize(std::string_view text, pretokenizer kind);

// What a tokenizer.ggml.pre name means, as llama.cpp (c392e50) reads it: the expression,
// and whether a pre-token that is a whole vocabulary entry skips the merges (Llama 3).
struct pretokenizer_choice {
  pretokenizer kind;
  bool ignore_merges;
};
std::optional<pretokenizer_choice> pretokenizer_named(std::string_view name);

// The names pretokenizer_named knows, comma-separated, for error messages.
std::string known_pretokenizers();

}  // namespace corolla
