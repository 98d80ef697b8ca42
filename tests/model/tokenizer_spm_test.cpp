// The SentencePiece-style tokenizer against llama.cpp's own ids for stories260K
// (../shared/golden/stories260K/tokenize.txt), plus decoding and streaming rules.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/gguf_file.hpp"
#include "model/tokenizer.hpp"
#include "model/unicode.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

const char kModel[] = "models/stories260K.gguf";

// `s` decoded to code points and encoded again: equal to s iff s is valid UTF-8.
std::string bytes_roundtrip(const std::string& s) {
  std::string out;
  for (uint32_t cp : to_code_points(s)) append_utf8(out, cp);
  return out;
}

struct golden_case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<golden_case> read_golden(const std::string& path) {
  std::vector<golden_case> cases;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("text: ", 0) == 0) {
      std::string text = line.substr(6);
      for (size_t p; (p = text.find("\\n")) != std::string::npos;) text.replace(p, 2, "\n");
      cases.push_back({text, {}});
    } else if (line.rfind("ids:", 0) == 0 && !cases.empty()) {
      std::istringstream ids(line.substr(4));
      for (int32_t id; ids >> id;) cases.back().ids.push_back(id);
    }
  }
  return cases;
}

class SpmTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::shared_exists(kModel)) GTEST_SKIP() << "../shared/" << kModel << " is absent";
    auto file = gguf_file::open(testing::shared_path(kModel));
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto tok = tokenizer::from_gguf(*file);
    ASSERT_TRUE(tok.ok()) << tok.error().to_string();
    tok_ = std::make_unique<tokenizer>(std::move(*tok));
  }
  std::unique_ptr<tokenizer> tok_;
};

TEST_F(SpmTokenizer, ReproducesLlamaCppIdsForEveryGoldenText) {
  const std::string path = testing::shared_path("golden/stories260K/tokenize.txt");
  const auto cases = read_golden(path);
  ASSERT_GE(cases.size(), 10u) << "could not read " << path;
  for (const auto& c : cases) {
    SCOPED_TRACE("text: " + c.text);
    EXPECT_EQ(tok_->encode(c.text, /*add_bos=*/true, /*parse_special=*/false), c.ids);
  }
}

TEST_F(SpmTokenizer, ParsesSpecialTokensOnlyWhenAsked) {
  const auto plain = tok_->encode("</s>", /*add_bos=*/false, /*parse_special=*/false);
  EXPECT_GT(plain.size(), 1u);
  const auto special = tok_->encode("</s>", /*add_bos=*/false, /*parse_special=*/true);
  EXPECT_EQ(special, std::vector<int32_t>{tok_->eos()});
}

TEST_F(SpmTokenizer, DecodeInvertsEncodeForEveryGoldenText) {
  for (const auto& c : read_golden(testing::shared_path("golden/stories260K/tokenize.txt"))) {
    SCOPED_TRACE("text: " + c.text);
    EXPECT_EQ(tok_->decode(c.ids, /*strip_leading_space=*/true), c.text);
  }
}

TEST_F(SpmTokenizer, StreamNeverEmitsHalfACharacter) {
  // "日" is three bytes, each its own <0xNN> token in this vocabulary.
  const auto ids = tok_->encode("日本", /*add_bos=*/false, /*parse_special=*/false);
  token_stream stream(*tok_, /*strip_leading_space=*/true);
  std::string shown;
  for (int32_t id : ids) {
    const std::string part = stream.push(id);
    // Every chunk is whole characters: it re-encodes to itself and ends complete.
    EXPECT_EQ(complete_utf8_prefix(part), part.size()) << "chunk ends mid-character";
    EXPECT_EQ(part, bytes_roundtrip(part)) << "chunk is not valid UTF-8";
    shown += part;
  }
  shown += stream.flush();
  EXPECT_EQ(shown, "日本");
}

TEST_F(SpmTokenizer, StreamHoldsAnUnfinishedCharacterUntilFlush) {
  token_stream stream(*tok_);
  const int32_t e6 = tok_->find("<0xE6>");
  ASSERT_GE(e6, 0);
  EXPECT_EQ(stream.push(e6), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");  // U+FFFD for the cut-off sequence
}

}  // namespace
}  // namespace corolla
