#include "model/chat_template.hpp"

namespace corolla {
namespace {

bool contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// Llama 2 and Mistral fold the system prompt into the first user turn.
std::string first_user_with_system(const std::string& system, const std::string& user,
                                   chat_format format) {
  if (system.empty()) return user;
  if (format == chat_format::llama2) return "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + user;
  return system + "\n\n" + user;
}

std::string render_inst(chat_format format, const std::vector<chat_message>& messages) {
  std::string out, system;
  bool first_user = true;
  for (const auto& m : messages) {
    if (m.role == "system") {
      system = m.content;
    } else if (m.role == "user") {
      const std::string text =
          first_user ? first_user_with_system(system, m.content, format) : m.content;
      first_user = false;
      // Llama 2 opens every turn after the first with its own BOS; the tokenizer
      // adds the first one.
      if (format == chat_format::llama2 && !out.empty()) out += "<s>";
      out += "[INST] " + text + " [/INST]";
    } else if (format == chat_format::llama2) {  // assistant
      out += " " + m.content + " </s>";
    } else {
      out += m.content + "</s>";
    }
  }
  return out;
}

}  // namespace

const char* to_string(chat_format f) {
  switch (f) {
    case chat_format::plain:
      return "plain";
    case chat_format::llama2:
      return "llama2";
    case chat_format::llama3:
      return "llama3";
    case chat_format::chatml:
      return "chatml";
    case chat_format::zephyr:
      return "zephyr";
    case chat_format::mistral:
      return "mistral";
    case chat_format::phi3:
      return "phi3";
    case chat_format::gemma:
      return "gemma";
  }
  return "plain";
}

std::optional<chat_format> recognise_chat_template(const std::string& t) {
  if (t.empty()) return chat_format::plain;
  if (contains(t, "<|start_header_id|>")) return chat_format::llama3;
  if (contains(t, "<|im_start|>")) return chat_format::chatml;
  if (contains(t, "<start_of_turn>")) return chat_format::gemma;
  if (contains(t, "<|assistant|>") && contains(t, "<|end|>")) return chat_format::phi3;
  if (contains(t, "<|user|>") || contains(t, "<|assistant|>")) return chat_format::zephyr;
  if (contains(t, "[INST]")) {
    return contains(t, "<<SYS>>") ? chat_format::llama2 : chat_format::mistral;
  }
  return std::nullopt;
}

chat_format detect_chat_format(const std::string& t) {
  return recognise_chat_template(t).value_or(chat_format::plain);
}

std::string render_chat(chat_format format, const std::vector<chat_message>& messages,
                        bool add_generation_prompt) {
  std::string out;
  switch (format) {
    case chat_format::llama2:
    case chat_format::mistral:
      return render_inst(format, messages);
    case chat_format::llama3:
      for (const auto& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    case chat_format::chatml:
      for (const auto& m : messages)
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
    case chat_format::zephyr:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
      if (add_generation_prompt) out += "<|assistant|>\n";
      return out;
    case chat_format::phi3:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_generation_prompt) out += "<|assistant|>\n";
      return out;
    case chat_format::gemma: {
      // Gemma has no system role: its text opens the first user turn.
      std::string system;
      for (const auto& m : messages) {
        if (m.role == "system") {
          system = m.content;
          continue;
        }
        std::string content = m.content;
        if (m.role == "user" && !system.empty()) {
          content = system + "\n\n" + content;
          system.clear();
        }
        out += "<start_of_turn>" + std::string(m.role == "assistant" ? "model" : m.role) + "\n" +
               content + "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      return out;
    }
    case chat_format::plain:
      for (size_t i = 0; i < messages.size(); ++i) {
        out += (i ? "\n" : "") + messages[i].content;
      }
      return out;
  }
  return out;
}

std::vector<std::string> chat_stop_strings(chat_format format) {
  switch (format) {
    case chat_format::llama2:
    case chat_format::mistral:
      return {"</s>", "[INST]"};
    case chat_format::llama3:
      return {"<|eot_id|>", "<|start_header_id|>"};
    case chat_format::chatml:
      return {"<|im_end|>", "<|im_start|>"};
    case chat_format::zephyr:
      return {"</s>", "<|user|>"};
    case chat_format::phi3:
      return {"<|end|>", "<|user|>"};
    case chat_format::gemma:
      return {"<end_of_turn>", "<start_of_turn>"};
    case chat_format::plain:
      return {};
  }
  return {};
}

}  // namespace corolla
