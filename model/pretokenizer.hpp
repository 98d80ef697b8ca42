// Pre-tokenizers of byte-level BPE vocabularies: split text into the pieces that
// BPE merges within (never across). Hand-written matchers equivalent to the
// regular expressions llama.cpp uses, evaluated on code points:
//  llama3: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
//          \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Invariant: the pieces concatenate to the input, and none is empty.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace corolla {

enum class pretokenizer { llama3, gpt2 };

std::vector<std::string> pretokenize(std::string_view text, pretokenizer kind);

}  // namespace corolla
