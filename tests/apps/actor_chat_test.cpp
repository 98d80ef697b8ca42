// actor-chat as a script drives it: stdin not a terminal, one prompt per line, each
// answer on stdout followed by a blank line, commands and diagnostics on stderr.
#include <gtest/gtest.h>

#include <string>

#include "model/gguf_file.hpp"
#include "model/gguf_writer.hpp"
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

std::string made_model(const std::string& name, int seed = 5) {
  const std::string model = testing::temp_path(name);
  EXPECT_EQ(
      run_command(app_path("corolla") + " gguf make --preset stories260k --type q8_0 --seed " +
                  std::to_string(seed) + " -o " + model + " >/dev/null 2>&1")
          .exit_code,
      0);
  return model;
}

// Runs actor-chat --local on `model` with `input` on stdin; stdout in output, stderr in err.
testing::command_result chat(const std::string& model, const std::string& input,
                             const std::string& flags, std::string& err) {
  const std::string log = testing::temp_path("chat-run.err");
  const std::string in = testing::temp_path("chat-run.in");
  testing::write_file(in, input);
  auto r = run_command(app_path("actor-chat") + " --local --model " + model + " " + flags + " <" +
                       in + " 2>" + log);
  err = testing::read_file(log);
  return r;
}

TEST(ActorChat, EachPromptGetsAFreshSeedUnlessOneIsSet) {
  const std::string model = made_model("chat-seeds.gguf");
  const std::string flags = "--temperature 1.5 --top-k 0 --top-p 1 --min-p 0 --max-tokens 32";
  std::string err;
  const auto unseeded = chat(model, "Once\nOnce\n", flags, err);
  ASSERT_EQ(unseeded.exit_code, 0) << err;
  const size_t split = unseeded.output.find("\n\n");
  ASSERT_NE(split, std::string::npos);
  EXPECT_NE(unseeded.output.substr(0, split + 2), unseeded.output.substr(split + 2))
      << "two unseeded answers at temperature 1.5 were the same";
  const auto seeded = chat(model, "Once\nOnce\n", flags + " --seed 3", err);
  ASSERT_EQ(seeded.exit_code, 0) << err;
  const size_t half = seeded.output.find("\n\n");
  ASSERT_NE(half, std::string::npos);
  EXPECT_EQ(seeded.output.substr(0, half + 2), seeded.output.substr(half + 2));
}

TEST(ActorChat, SetValidatesAtOnceAndAloneShowsTheSettings) {
  std::string err;
  const auto r =
      chat(made_model("chat-set.gguf"),
           "/set temperature -1\n/set top_k x\n/set max_tokens 0\n/set\n/system Be kind.\n"
           "/system\n",
           "", err);
  EXPECT_EQ(r.exit_code, 0) << err;
  EXPECT_NE(err.find("/set: temperature must be >= 0"), std::string::npos) << err;
  EXPECT_NE(err.find("/set: 'x' is not a number"), std::string::npos) << err;
  EXPECT_NE(err.find("/set: max_tokens must be >= 1"), std::string::npos) << err;
  EXPECT_NE(err.find("temperature 0.8, top_k 40"), std::string::npos) << err;  // unchanged
  EXPECT_NE(err.find("seed random per prompt"), std::string::npos) << err;
  EXPECT_NE(err.find("system prompt: Be kind."), std::string::npos) << err;
}

// A chat model (the model maker's, with a ChatML template added) whose conversation
// outgrows a small context keeps answering, dropping its oldest turns.
TEST(ActorChat, AConversationThatOutgrowsTheContextDropsItsOldestTurns) {
  const std::string plain = made_model("chat-plain.gguf");
  auto file = gguf_file::open(plain);
  ASSERT_TRUE(file.ok());
  gguf_writer out;
  for (const auto& [key, value] : file->metadata()) out.set(key, value);
  out.set("tokenizer.chat_template",
          gguf_value::of_string("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                                "<|im_end|>\n{% endfor %}"));
  for (const gguf_tensor& t : file->tensors()) {
    ASSERT_TRUE(out.add_tensor_bytes(t.name, t.shape, ggml_type(t.type), t.data, t.bytes).ok());
  }
  const std::string model = testing::temp_path("chat-chatml.gguf");
  ASSERT_TRUE(out.write_file(model).ok());
  std::string input;
  for (int i = 0; i < 8; ++i) input += "Tell me one more thing about the little dog\n";
  std::string err;
  const auto r =
      chat(model, input, "--context 160 --max-tokens 16 --temperature 0 --system Hi", err);
  EXPECT_EQ(r.exit_code, 0) << err;
  EXPECT_EQ(err.find("error:"), std::string::npos) << err;
  EXPECT_NE(err.find("chat template chatml"), std::string::npos) << err;
  EXPECT_NE(err.find("the conversation outgrew the context"), std::string::npos) << err;
}

TEST(ActorChat, EveryProgramHasAVersionAndNetworkErrorsAreInWords) {
  for (const char* program : {"actor-chat", "actor-node", "corolla"}) {
    const auto v = run_command(app_path(program) + " --version");
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.output.rfind(std::string(program) + " 0.", 0), 0u) << v.output;
  }
  const auto refused = run_command(app_path("actor-chat") + " --peer 127.0.0.1:1 --model " +
                                   made_model("chat-peer.gguf") + " 2>&1 </dev/null");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("nothing listens there"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("system_error"), std::string::npos) << refused.output;
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
