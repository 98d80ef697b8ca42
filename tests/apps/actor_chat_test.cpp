// actor-chat as a script drives it: stdin not a terminal, one prompt per line, each
// answer on stdout followed by a blank line, commands and diagnostics on stderr.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using testing::app_path;
using testing::run_command;

// The text `corolla generate` continues `prompt` with, greedily.
std::string single_process(const std::string& model, const std::string& prompt) {
  const auto r =
      run_command(app_path("corolla") + " generate --model " + model + " --temperature 0 " +
                  "--max-tokens 12 --prompt '" + prompt + "' 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind(prompt, 0), 0u) << r.output;
  return r.output.substr(prompt.size(), r.output.size() - prompt.size() - 1);  // minus the newline
}

TEST(ActorChat, AnswersOnePromptPerLineLikeTheSingleProcessGenerator) {
  const std::string model = testing::temp_path("chat-stories.gguf");
  ASSERT_EQ(
      run_command(app_path("corolla") + " gguf make --preset stories260k --type q8_0 --seed 5 -o " +
                  model + " >/dev/null 2>&1")
          .exit_code,
      0);
  const std::string log = testing::temp_path("chat.err");
  const auto chat = run_command(
      "printf 'Once upon a time\\n/route\\n/set max_tokens 4\\n/stats\\nThe dog\\n' | " +
      app_path("actor-chat") + " --local --servers 3 --model " + model +
      " --temperature 0 --max-tokens 12 2>" + log);
  ASSERT_EQ(chat.exit_code, 0) << testing::read_file(log);
  const std::string first = single_process(model, "Once upon a time");
  EXPECT_EQ(chat.output.substr(0, first.size() + 2), first + "\n\n");
  const std::string err = testing::read_file(log);
  EXPECT_NE(err.find("server-3: blocks [4, 5)"), std::string::npos) << err;
  EXPECT_NE(err.find("max_tokens = 4"), std::string::npos) << err;
  EXPECT_NE(err.find("per token (mean of the decode steps)"), std::string::npos) << err;
  EXPECT_NE(err.find("[4 tokens"), std::string::npos) << err;
}

TEST(ActorChat, RefusesBadFlagsClearly) {
  const auto no_local = run_command(app_path("actor-chat") + " 2>&1 </dev/null");
  EXPECT_EQ(no_local.exit_code, 2);
  EXPECT_NE(no_local.output.find("--local"), std::string::npos) << no_local.output;
  const auto too_many = run_command(app_path("actor-chat") + " --local --servers 9 --model " +
                                    testing::temp_path("absent.gguf") + " 2>&1 </dev/null");
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_NE(too_many.output.find("absent.gguf"), std::string::npos) << too_many.output;
  const auto codec = run_command(app_path("actor-chat") + " --local --codec bf16 2>&1 </dev/null");
  EXPECT_EQ(codec.exit_code, 2);
  EXPECT_NE(codec.output.find("unknown wire codec 'bf16'"), std::string::npos) << codec.output;
}

}  // namespace
}  // namespace corolla
