// Chat templates: turn a conversation into the prompt text a chat model was
// trained on. Corolla recognises the common formats from the Jinja source in
// tokenizer.chat_template (it does not run Jinja) and renders them itself:
//   llama2  <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>
//   llama3  <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
//   chatml  <|im_start|>{role}\n{content}<|im_end|>\n
//   zephyr  <|{role}|>\n{content}</s>\n
//   mistral [INST] {system}\n\n{user} [/INST]{assistant}</s>
//   phi3    <|{role}|>\n{content}<|end|>\n
//   gemma   <start_of_turn>{user|model}\n{content}<end_of_turn>\n (system text opens the
//           first user turn)
//   plain   base models: the turns' text, one per line, for raw completion
// Rendered text carries no BOS (the tokenizer adds it) and is tokenised with
// special-token parsing on. Pure functions; callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace corolla {

enum class chat_format { plain, llama2, llama3, chatml, zephyr, mistral, phi3, gemma };

struct chat_message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

const char* to_string(chat_format f);

// The format a tokenizer.chat_template source denotes: plain for an empty one, nullopt
// for one Corolla does not recognise (callers say so rather than chat without it).
std::optional<chat_format> recognise_chat_template(const std::string& jinja_source);

// recognise_chat_template, with plain for an unrecognised template.
chat_format detect_chat_format(const std::string& jinja_source);

// The prompt for `messages`; with add_generation_prompt it ends where the
// assistant's next answer begins.
std::string render_chat(chat_format format, const std::vector<chat_message>& messages,
                        bool add_generation_prompt);

// Text that marks the end of an assistant turn in `format` (besides EOS), for
// stop-string matching; empty for plain.
std::vector<std::string> chat_stop_strings(chat_format format);

}  // namespace corolla
