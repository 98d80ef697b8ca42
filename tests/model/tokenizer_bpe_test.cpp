// The byte-level BPE tokenizer (Llama 3 style) on a vocabulary built here: the
// 256 byte tokens (id = byte value) plus a handful of merges, with every expected
// id sequence worked out by hand from the merge ranks.
#include <gtest/gtest.h>

#include "model/pretokenizer.hpp"
#include "model/tokenizer.hpp"
#include "model/unicode.hpp"

namespace corolla {
namespace {

enum : int32_t { k_t = 256, k_he, k_the, k_ll, k_ell, k_hell, k_hello, k_bos, k_eot };

tokenizer make_bpe(const std::string& pre = "llama-bpe") {
  vocabulary v;
  v.kind = tokenizer_kind::bpe;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(bytes_to_byte_level(std::string(1, char(b))));
  // Ranks are the order of v.merges.
  v.merges = {"Ġ t", "h e", "Ġt he", "l l", "e ll", "h ell", "hell o"};
  for (const char* t : {"Ġt", "he", "Ġthe", "ll", "ell", "hell", "hello"}) v.tokens.push_back(t);
  v.tokens.push_back("<|begin_of_text|>");
  v.tokens.push_back("<|eot_id|>");
  v.types.assign(v.tokens.size(), token_type::normal);
  v.types[k_bos] = v.types[k_eot] = token_type::control;
  v.bos = k_bos;
  v.eot = k_eot;
  v.pre = pre;
  v.add_space_prefix = false;
  auto t = tokenizer::from_vocabulary(std::move(v));
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return std::move(*t);
}

TEST(BpeTokenizer, WholeWordTokensAreKeptWithLlama3IgnoreMerges) {
  const tokenizer t = make_bpe();
  EXPECT_EQ(t.encode("hello the", /*add_bos=*/true, /*parse_special=*/false),
            (std::vector<int32_t>{k_bos, k_hello, k_the}));
}

TEST(BpeTokenizer, MergesApplyInRankOrderNotLeftToRight) {
  const tokenizer t = make_bpe();
  // h e l l o s: "h e" (rank 1) beats "l l" (rank 3); "he" then blocks "e ll" and
  // "h ell", so the word ends as he + ll + o + s.
  EXPECT_EQ(t.encode("hellos", false, false), (std::vector<int32_t>{k_he, k_ll, 'o', 's'}));
  // e l l o: "l l" first, then "e ll"; "ell o" is not a merge.
  EXPECT_EQ(t.encode("ello", false, false), (std::vector<int32_t>{k_ell, 'o'}));
  // " th" -> Ġ t h: "Ġ t" (rank 0) -> Ġt h; "Ġt h" is no merge.
  EXPECT_EQ(t.encode("x th", false, false), (std::vector<int32_t>{'x', k_t, 'h'}));
}

TEST(BpeTokenizer, NonAsciiBytesMapThroughTheByteLevelAlphabet) {
  const tokenizer t = make_bpe();
  // "é" is C3 A9; both bytes are their own tokens (id = byte).
  const auto ids = t.encode("é", false, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{0xC3, 0xA9}));
  EXPECT_EQ(t.decode(ids), "é");
  EXPECT_EQ(t.decode({k_hello, k_the, ' ', 'x'}), "hello the x");
}

TEST(BpeTokenizer, SpecialTokensNeedParseSpecial) {
  const tokenizer t = make_bpe();
  EXPECT_EQ(t.encode("<|eot_id|>hello", false, true), (std::vector<int32_t>{k_eot, k_hello}));
  const auto raw = t.encode("<|eot_id|>", false, false);
  EXPECT_GT(raw.size(), 1u);
  EXPECT_EQ(t.decode(raw), "<|eot_id|>");
  EXPECT_TRUE(t.is_end_of_generation(k_eot));
  EXPECT_EQ(t.piece(k_bos), "");
}

TEST(Pretokenizer, Llama3SplitsDigitsInThreesAndKeepsNewlinesWithPunctuation) {
  EXPECT_EQ(pretokenize("I'm 12345 ok!!\n\n", pretokenizer::llama3),
            (std::vector<std::string>{"I", "'m", " ", "123", "45", " ok", "!!\n\n"}));
  EXPECT_EQ(pretokenize("a  b", pretokenizer::llama3), (std::vector<std::string>{"a", " ", " b"}));
  EXPECT_EQ(pretokenize("x \n\n y", pretokenizer::llama3),
            (std::vector<std::string>{"x", " \n\n", " y"}));
  EXPECT_EQ(pretokenize("WE'LL go", pretokenizer::llama3),
            (std::vector<std::string>{"WE", "'LL", " go"}));
  EXPECT_EQ(pretokenize("日本語 ok", pretokenizer::llama3),
            (std::vector<std::string>{"日本語", " ok"}));
}

TEST(Pretokenizer, Gpt2KeepsNumbersWholeAndSplitsNewlines) {
  EXPECT_EQ(pretokenize("I'm 12345 ok!!\n\n", pretokenizer::gpt2),
            (std::vector<std::string>{"I", "'m", " 12345", " ok", "!!", "\n\n"}));
  EXPECT_EQ(pretokenize("trailing  ", pretokenizer::gpt2),
            (std::vector<std::string>{"trailing", "  "}));
}

TEST(Unicode, ByteLevelMappingIsABijection) {
  for (int b = 0; b < 256; ++b) EXPECT_EQ(code_point_to_byte(byte_to_code_point(uint8_t(b))), b);
  EXPECT_EQ(bytes_to_byte_level(" "), "Ġ");
  EXPECT_EQ(bytes_to_byte_level("\n"), "Ċ");
}

TEST(Unicode, CategoriesCoverScriptsBeyondAscii) {
  EXPECT_TRUE(is_letter(0x00E9));    // é
  EXPECT_TRUE(is_letter(0x65E5));    // 日
  EXPECT_TRUE(is_number(0x0663));    // Arabic-Indic three
  EXPECT_FALSE(is_letter(0x1F642));  // emoji
  EXPECT_TRUE(is_white_space(0x3000));
  EXPECT_FALSE(is_white_space('x'));
}

}  // namespace
}  // namespace corolla
