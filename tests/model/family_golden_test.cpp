// The tokenizer and chat templates of each family's random model against llama.cpp
// (../shared/golden/rand-<family>/tokenize.txt and chat.txt, see its README): Llama 3's
// and Qwen2's byte-level BPE pre-tokenizers, SentencePiece without a space prefix
// (Gemma), and the Llama 3, ChatML, Phi-3 and Gemma templates as llama.cpp renders them.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "model/llama_model.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

// The golden files write a newline as \n; chat.txt's rendered text is quoted too.
std::string unescape(std::string s) {
  for (size_t p; (p = s.find("\\n")) != std::string::npos;) s.replace(p, 2, "\n");
  return s;
}

std::vector<int32_t> ids_of(const std::string& line) {
  std::istringstream in(line.substr(line.find(':') + 1));
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

class FamilyGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!testing::shared_exists("models/" + GetParam() + ".gguf") ||
        !testing::shared_exists("golden/" + GetParam() + "/tokenize.txt")) {
      GTEST_SKIP() << "../shared/models/" << GetParam() << ".gguf or its golden outputs absent";
    }
    model_options options;
    options.end_block = 0;  // the head and tokenizer only
    auto model = llama_model::load(testing::shared_path("models/" + GetParam() + ".gguf"), options);
    ASSERT_TRUE(model.ok()) << model.error().message();
    model_ = std::make_unique<llama_model>(std::move(*model));
  }
  std::vector<std::string> golden_lines(const std::string& file) const {
    std::istringstream in(
        testing::read_file(testing::shared_path("golden/" + GetParam() + "/" + file)));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::unique_ptr<llama_model> model_;
};

TEST_P(FamilyGolden, TokenisesEveryTextAsLlamaCpp) {
  const auto lines = golden_lines("tokenize.txt");
  int cases = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind("text: ", 0) != 0) continue;
    const std::string text = unescape(lines[i].substr(6));
    const auto expected = ids_of(lines[i + 1]);
    EXPECT_EQ(model_->tokenizer().encode(text, /*add_bos=*/true, /*parse_special=*/false), expected)
        << "text: " << lines[i].substr(6);
    ++cases;
  }
  EXPECT_GE(cases, 10);
}

TEST_P(FamilyGolden, RendersChatsAsLlamaCpp) {
  ASSERT_TRUE(model_->chat_template_recognised());
  const auto lines = golden_lines("chat.txt");
  const std::regex field(R"re((\w+)="([^"]*)")re");
  int cases = 0;
  for (size_t i = 0; i + 3 < lines.size(); ++i) {
    if (lines[i].rfind("messages: ", 0) != 0) continue;
    std::vector<chat_message> messages;
    for (std::sregex_iterator m(lines[i].begin(), lines[i].end(), field), end; m != end; ++m) {
      messages.push_back({(*m)[1], (*m)[2]});
    }
    const std::string& quoted = lines[i + 2];  // rendered: "..."
    const std::string expected = unescape(quoted.substr(11, quoted.size() - 12));
    const std::string rendered = render_chat(model_->chat(), messages, true);
    EXPECT_EQ(rendered, expected) << to_string(model_->chat());
    EXPECT_EQ(model_->tokenizer().encode(rendered, true, /*parse_special=*/true),
              ids_of(lines[i + 3]));
    ++cases;
  }
  EXPECT_EQ(cases, 2);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyGolden,
                         ::testing::Values("rand-llama3", "rand-qwen2", "rand-phi3", "rand-gemma2"),
                         [](const auto& test) { return testing::param_name(test.param); });

}  // namespace
}  // namespace corolla
