// openai_api: the OpenAI HTTP API's JSON, as llama-server shapes it — requests parsed
// and checked into Corolla's generation options, replies and stream chunks built from
// what a generation produced. No CAF, no sockets: the gateway (http/gateway.cpp) does
// the talking, this file decides what the bytes mean, so tests can drive it directly.
//
// Invariants:
//  1. A parsed request is valid: its options pass generation_options' checks, a chat
//     has at least one message with a known role, a completion has a prompt.
//  2. Every refusal is an api_error with the HTTP status and OpenAI's error type, and a
//     message that names the field and what was wrong with it.
//  3. Unknown fields are ignored (clients send many); known fields of the wrong type are
//     refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/chat_template.hpp"
#include "model/generator.hpp"

namespace corolla {

struct api_error {
  int http_status = 400;
  std::string type = "invalid_request_error";  // OpenAI's error types
  std::string message;
  std::string code;  // OpenAI's machine-readable code, "" for none
};

// {"error": {"message", "type", "code"}}; code is the HTTP status when no other is given
// (as llama-server does).
std::string error_body(const api_error& e);

struct completion_request {
  bool chat = false;                   // /v1/chat/completions (else /v1/completions)
  std::vector<chat_message> messages;  // chat
  std::string prompt;                  // completion
  std::string model;                   // echoed back; one model per swarm
  generation_options options;
  bool seed_given = false;        // false: the gateway picks a random seed
  bool max_tokens_given = false;  // false: until the end of generation or the context
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Parses a request body. `defaults` supplies what the body leaves out (the node's
// sampling settings). Errors: 400 for malformed JSON, a field of the wrong type or out of
// range, an empty `messages` or `prompt`.
std::variant<completion_request, api_error> parse_completion_request(
    std::string_view body, bool chat, const generation_options& defaults);

// POST /tokenize {"content", "add_special"?, "with_pieces"?} and POST /detokenize
// {"tokens"}: llama-server's shapes.
struct tokenize_request {
  std::string content;
  bool add_special = true;
  bool with_pieces = false;
};
std::variant<tokenize_request, api_error> parse_tokenize_request(std::string_view body);
std::variant<std::vector<int32_t>, api_error> parse_detokenize_request(std::string_view body,
                                                                       int32_t vocab_size);

// "stop" or "length" for a generation that ended for `reason`.
const char* finish_reason(stop_reason reason);

// What one answer was: the reply's and the chunks' shared fields.
struct completion_identity {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
  bool chat = false;
};

struct completion_usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // of the prompt, already in the session's caches (not computed)
};

// The whole non-streamed reply.
nlohmann::json completion_reply(const completion_identity& who, const std::string& text,
                                stop_reason reason, const completion_usage& usage);

// Stream chunks: the first (chat: the assistant's role), one per piece of text, the last
// (finish_reason), and the usage chunk (no choices) when the client asked for it.
nlohmann::json first_chunk(const completion_identity& who);
nlohmann::json text_chunk_json(const completion_identity& who, const std::string& text);
nlohmann::json last_chunk(const completion_identity& who, stop_reason reason);
nlohmann::json usage_chunk(const completion_identity& who, const completion_usage& usage);

// One server-sent event: "data: <json>\n\n".
std::string sse_event(const nlohmann::json& payload);

// Tokens as text that may end inside a UTF-8 sequence are replaced, not passed on:
// nlohmann::json refuses to dump invalid UTF-8, and a client could not read it anyway.
nlohmann::json text_value(const std::string& text);

}  // namespace corolla
