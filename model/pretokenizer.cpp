#include "model/pretokenizer.hpp"

#include <cstdint>

#include "model/unicode.hpp"

namespace corolla {
namespace {

struct text_view {
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;  // byte offset of each code point, plus the end

  uint32_t at(size_t i) const { return i < cps.size() ? cps[i] : 0; }
  bool letter(size_t i) const { return i < cps.size() && is_letter(cps[i]); }
  bool number(size_t i) const { return i < cps.size() && is_number(cps[i]); }
  bool space(size_t i) const { return i < cps.size() && is_white_space(cps[i]); }
  bool newline(size_t i) const { return i < cps.size() && (cps[i] == '\r' || cps[i] == '\n'); }
  // Neither white space, letter nor number: [^\s\p{L}\p{N}].
  bool other(size_t i) const { return i < cps.size() && !space(i) && !letter(i) && !number(i); }
};

uint32_t lower(uint32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// Length of a contraction at i ('s 't 're 've 'm 'll 'd), 0 if none.
size_t contraction(const text_view& t, size_t i, bool any_case) {
  if (t.at(i) != '\'') return 0;
  auto c = [&](size_t k) { return any_case ? lower(t.at(k)) : t.at(k); };
  const uint32_t a = c(i + 1), b = c(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Shared tail of both expressions: \s+(?!\S)|\s+ at i (i is white space).
size_t trailing_space(const text_view& t, size_t i) {
  size_t j = i;
  while (t.space(j)) ++j;
  // Leave the last space to prefix the following word, unless the run ends the text.
  if (j < t.cps.size() && j - i >= 2) return j - 1 - i;
  return j - i;
}

size_t match_llama3(const text_view& t, size_t i, size_t max_digits) {
  if (size_t n = contraction(t, i, /*any_case=*/true)) return n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  {
    size_t j = i;
    if (!t.newline(j) && !t.letter(j) && !t.number(j) && t.letter(j + 1)) ++j;
    if (t.letter(j)) {
      while (t.letter(j)) ++j;
      return j - i;
    }
  }
  // \p{N}{1,3} (llama3) or \p{N} (qwen2)
  if (t.number(i)) {
    size_t j = i;
    while (j - i < max_digits && t.number(j)) ++j;
    return j - i;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  {
    size_t j = i;
    if (t.at(j) == ' ' && t.other(j + 1)) ++j;
    if (t.other(j)) {
      while (t.other(j)) ++j;
      while (t.newline(j)) ++j;
      return j - i;
    }
  }
  // \s*[\r\n]+ : up to and including the last newline of the white-space run.
  size_t j = i, last_newline = SIZE_MAX;
  while (t.space(j)) {
    if (t.newline(j)) last_newline = j;
    ++j;
  }
  if (last_newline != SIZE_MAX) return last_newline + 1 - i;
  return trailing_space(t, i);
}

size_t match_gpt2(const text_view& t, size_t i) {
  if (size_t n = contraction(t, i, /*any_case=*/false)) return n;
  const size_t s = t.at(i) == ' ' ? i + 1 : i;  // the optional leading space
  if (t.letter(s)) {
    size_t j = s;
    while (t.letter(j)) ++j;
    return j - i;
  }
  if (t.number(s)) {
    size_t j = s;
    while (t.number(j)) ++j;
    return j - i;
  }
  if (t.other(s)) {
    size_t j = s;
    while (t.other(j)) ++j;
    return j - i;
  }
  return trailing_space(t, i);
}

struct named_choice {
  const char* name;
  pretokenizer_choice choice;
};
constexpr named_choice kNamed[] = {
    {"llama3", {pretokenizer::llama3, true}},
    {"llama-v3", {pretokenizer::llama3, true}},
    {"llama-bpe", {pretokenizer::llama3, true}},
    {"falcon3", {pretokenizer::llama3, true}},
    {"dbrx", {pretokenizer::llama3, false}},
    {"smaug-bpe", {pretokenizer::llama3, false}},
    {"chatglm-bpe", {pretokenizer::llama3, false}},
    {"qwen2", {pretokenizer::qwen2, false}},
    {"deepseek-r1-qwen", {pretokenizer::qwen2, false}},
    {"stablelm2", {pretokenizer::qwen2, false}},
    {"megrez", {pretokenizer::qwen2, false}},
    {"gpt-2", {pretokenizer::gpt2, false}},
    {"gpt2", {pretokenizer::gpt2, false}},
    {"phi-2", {pretokenizer::gpt2, false}},
    {"mpt", {pretokenizer::gpt2, false}},
    {"olmo", {pretokenizer::gpt2, false}},
    {"jais", {pretokenizer::gpt2, false}},
    {"roberta-bpe", {pretokenizer::gpt2, false}},
    {"starcoder", {pretokenizer::digits_then_gpt2, false}},
    {"smollm", {pretokenizer::digits_then_gpt2, false}},
    {"refact", {pretokenizer::digits_then_gpt2, false}},
    {"command-r", {pretokenizer::digits_then_gpt2, false}},
    {"codeshell", {pretokenizer::digits_then_gpt2, false}},
    {"exaone", {pretokenizer::digits_then_gpt2, false}},
    {"minerva-7b", {pretokenizer::digits_then_gpt2, false}},
};

// Splits t[begin, end) with `match` (which sees only that range) into `pieces`.
template <typename Match>
void split(const text_view& t, std::string_view text, size_t begin, size_t end, Match match,
           std::vector<std::string>& pieces) {
  text_view part;
  part.cps.assign(t.cps.begin() + ptrdiff_t(begin), t.cps.begin() + ptrdiff_t(end));
  for (size_t i = 0; i < part.cps.size();) {
    size_t n = match(part, i);
    if (n == 0) n = 1;  // unreachable with these expressions; guarantees progress
    pieces.emplace_back(
        text.substr(t.offsets[begin + i], t.offsets[begin + i + n] - t.offsets[begin + i]));
    i += n;
  }
}

}  // namespace

std::optional<pretokenizer_choice> pretokenizer_named(std::string_view name) {
  for (const named_choice& n : kNamed) {
    if (name == n.name) return n.choice;
  }
  return std::nullopt;
}

std::string known_pretokenizers() {
  std::string out;
  for (const named_choice& n : kNamed) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

std::vector<std::string> pretokenize(std::string_view text, pretokenizer kind) {
  text_view t;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    t.offsets.push_back(size_t(p - text.data()));
    t.cps.push_back(decode_utf8(p, end));
  }
  t.offsets.push_back(text.size());

  std::vector<std::string> pieces;
  switch (kind) {
    case pretokenizer::llama3:
      split(
          t, text, 0, t.cps.size(),
          [](const text_view& v, size_t i) { return match_llama3(v, i, 3); }, pieces);
      break;
    case pretokenizer::qwen2:
      split(
          t, text, 0, t.cps.size(),
          [](const text_view& v, size_t i) { return match_llama3(v, i, 1); }, pieces);
      break;
    case pretokenizer::gpt2:
      split(t, text, 0, t.cps.size(), match_gpt2, pieces);
      break;
    case pretokenizer::digits_then_gpt2:
      for (size_t i = 0; i < t.cps.size();) {
        size_t j = i;
        if (t.number(i)) {
          ++j;
        } else {
          while (j < t.cps.size() && !t.number(j)) ++j;
        }
        if (t.number(i)) {
          pieces.emplace_back(text.substr(t.offsets[i], t.offsets[j] - t.offsets[i]));
        } else {
          split(t, text, i, j, match_gpt2, pieces);
        }
        i = j;
      }
      break;
  }
  return pieces;
}

}  // namespace corolla
