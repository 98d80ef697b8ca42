// Chat templates: recognised from the Jinja sources real GGUFs carry, and rendered
// as those templates render a conversation with a system prompt and two turns.
#include <gtest/gtest.h>

#include "model/chat_template.hpp"

namespace corolla {
namespace {

const std::vector<chat_message> kChat = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Name a color."}};

TEST(ChatTemplate, DetectsCommonFormatsFromJinjaSources) {
  EXPECT_EQ(
      detect_chat_format("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}"),
      chat_format::llama3);
  EXPECT_EQ(detect_chat_format("{{'<|im_start|>' + message['role'] + '\\n'}}"),
            chat_format::chatml);
  EXPECT_EQ(detect_chat_format("{{ '<|user|>\\n' + message['content'] + eos_token }}"),
            chat_format::zephyr);
  EXPECT_EQ(detect_chat_format("{{ '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' }}{{ '[INST] ' }}"),
            chat_format::llama2);
  EXPECT_EQ(detect_chat_format("{{ '[INST] ' + message['content'] + ' [/INST]' }}"),
            chat_format::mistral);
  EXPECT_EQ(detect_chat_format(""), chat_format::plain);
}

TEST(ChatTemplate, RendersLlama3) {
  EXPECT_EQ(render_chat(chat_format::llama3, kChat, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, RendersLlama2WithSystemInFirstTurn) {
  EXPECT_EQ(render_chat(chat_format::llama2, kChat, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s>"
            "<s>[INST] Name a color. [/INST]");
}

TEST(ChatTemplate, RendersMistralChatmlAndZephyr) {
  EXPECT_EQ(render_chat(chat_format::mistral, kChat, true),
            "[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Name a color. [/INST]");
  EXPECT_EQ(render_chat(chat_format::chatml, kChat, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(chat_format::zephyr, {{"user", "Hi"}}, true),
            "<|user|>\nHi</s>\n<|assistant|>\n");
}

TEST(ChatTemplate, PlainModeIsRawTextForBaseModels) {
  EXPECT_EQ(render_chat(chat_format::plain, {{"user", "Once upon a time"}}, true),
            "Once upon a time");
  EXPECT_TRUE(chat_stop_strings(chat_format::plain).empty());
  EXPECT_EQ(chat_stop_strings(chat_format::llama3).front(), "<|eot_id|>");
}

}  // namespace
}  // namespace corolla
