#include "http/openai_api.hpp"

#include <limits>

namespace corolla {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxStopStrings = 16;
constexpr size_t kMaxStopLength = 256;

api_error bad_field(const std::string& field, const std::string& what) {
  return api_error{400, "invalid_request_error", "'" + field + "' " + what, ""};
}

// Each reader leaves `out` alone when the field is absent or null, and says what is wrong
// with it otherwise.
std::optional<api_error> read_bool(const json& body, const char* key, bool& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return bad_field(key, "must be a boolean");
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<api_error> read_number(const json& body, const char* key, float& out, bool& given) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return bad_field(key, "must be a number");
  const double v = it->get<double>();
  if (!(v >= -1e6 && v <= 1e6)) return bad_field(key, "is out of range");
  out = float(v);
  given = true;
  return std::nullopt;
}

std::optional<api_error> read_integer(const json& body, const char* key, int64_t& out,
                                      bool& given) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return bad_field(key, "must be an integer");
  out = it->get<int64_t>();
  given = true;
  return std::nullopt;
}

// A message's content: a string, or OpenAI's array of parts of which the text ones count.
std::optional<api_error> read_content(const json& message, size_t index, std::string& out) {
  const std::string field = "messages[" + std::to_string(index) + "].content";
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    out = it->get<std::string>();
    return std::nullopt;
  }
  if (!it->is_array()) return bad_field(field, "must be a string or an array of parts");
  for (const json& part : *it) {
    if (!part.is_object()) return bad_field(field, "has a part that is not an object");
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return bad_field(field, "has a part without a string 'type'");
    }
    if (*type != "text") {
      return bad_field(field, "has a part of type '" + type->get<std::string>() +
                                  "': only text parts are supported");
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) {
      return bad_field(field, "has a text part without a string 'text'");
    }
    out += text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<api_error> read_messages(const json& body, std::vector<chat_message>& out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return bad_field("messages", "is required");
  if (!it->is_array()) return bad_field("messages", "must be an array");
  if (it->empty()) return bad_field("messages", "must not be empty");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string field = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad_field(field, "must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad_field(field + ".role", "is required");
    chat_message msg;
    msg.role = role->get<std::string>();
    if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name for it
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant") {
      return bad_field(field + ".role", "must be system, developer, user or assistant, not '" +
                                            role->get<std::string>() + "'");
    }
    if (auto e = read_content(m, i, msg.content)) return e;
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<api_error> read_prompt(const json& body, std::string& out) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return bad_field("prompt", "is required");
  if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
    out = (*it)[0].get<std::string>();
  } else if (it->is_string()) {
    out = it->get<std::string>();
  } else {
    return bad_field("prompt", "must be a string (or an array of one string)");
  }
  if (out.empty()) return bad_field("prompt", "must not be empty");
  return std::nullopt;
}

std::optional<api_error> read_stop(const json& body, std::vector<std::string>& out) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return std::nullopt;
  std::vector<std::string> stops;
  if (it->is_string()) {
    stops.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (it->size() > kMaxStopStrings) {
      return bad_field("stop", "has more than " + std::to_string(kMaxStopStrings) + " strings");
    }
    for (const json& s : *it) {
      if (!s.is_string()) return bad_field("stop", "must be a string or an array of strings");
      stops.push_back(s.get<std::string>());
    }
  } else {
    return bad_field("stop", "must be a string or an array of strings");
  }
  for (const std::string& s : stops) {
    if (s.size() > kMaxStopLength) {
      return bad_field("stop",
                       "has a string longer than " + std::to_string(kMaxStopLength) + " bytes");
    }
    if (!s.empty()) out.push_back(s);
  }
  return std::nullopt;
}

std::optional<api_error> read_options(const json& body, completion_request& req) {
  generation_options& o = req.options;
  sampling_params& s = o.sampling;
  bool given = false;
  if (auto e = read_number(body, "temperature", s.temperature, given)) return e;
  if (auto e = read_number(body, "top_p", s.top_p, given)) return e;
  if (auto e = read_number(body, "min_p", s.min_p, given)) return e;
  if (auto e = read_number(body, "repeat_penalty", s.repeat_penalty, given)) return e;
  int64_t top_k = s.top_k;
  if (auto e = read_integer(body, "top_k", top_k, given)) return e;
  if (top_k < 0 || top_k > std::numeric_limits<int32_t>::max()) {
    return bad_field("top_k", "must be >= 0");
  }
  s.top_k = int32_t(top_k);
  int64_t seed = 0;
  if (auto e = read_integer(body, "seed", seed, req.seed_given)) return e;
  if (req.seed_given) s.seed = uint64_t(seed);
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    int64_t max_tokens = 0;
    bool max_given = false;
    if (auto e = read_integer(body, key, max_tokens, max_given)) return e;
    if (!max_given) continue;
    if (max_tokens < 1 && max_tokens != -1) return bad_field(key, "must be >= 1 (or -1: no limit)");
    if (max_tokens == -1) continue;  // llama-server's "until the context is full"
    o.max_tokens = int32_t(std::min<int64_t>(max_tokens, std::numeric_limits<int32_t>::max()));
    req.max_tokens_given = true;
  }
  // Speculation (generation_options::draft_tokens), by Corolla's name or llama-server's.
  for (const char* key : {"draft_tokens", "speculative.n_max"}) {
    int64_t drafts = o.draft_tokens;
    bool drafts_given = false;
    if (auto e = read_integer(body, key, drafts, drafts_given)) return e;
    if (!drafts_given) continue;
    if (drafts < 0 || drafts > max_draft_tokens) {
      return bad_field(key, "must be in 0.." + std::to_string(max_draft_tokens));
    }
    o.draft_tokens = int32_t(drafts);
  }
  int64_t n = 1;
  bool n_given = false;
  if (auto e = read_integer(body, "n", n, n_given)) return e;
  if (n != 1) return bad_field("n", "must be 1: one choice per request");
  if (auto e = read_stop(body, o.stop_strings)) return e;
  if (auto e = read_bool(body, "stream", req.stream)) return e;
  bool ignore_eos = !o.stop_at_eos;  // llama-server's extension: benchmarks run to max_tokens
  if (auto e = read_bool(body, "ignore_eos", ignore_eos)) return e;
  o.stop_at_eos = !ignore_eos;
  auto so = body.find("stream_options");
  if (so != body.end() && !so->is_null()) {
    if (!so->is_object()) return bad_field("stream_options", "must be an object");
    if (auto e = read_bool(*so, "include_usage", req.include_usage)) return e;
  }
  auto model = body.find("model");
  if (model != body.end() && !model->is_null()) {
    if (!model->is_string()) return bad_field("model", "must be a string");
    req.model = model->get<std::string>();
  }
  if (status valid = s.validate(); !valid.ok()) return bad_field("sampling", valid.message());
  return std::nullopt;
}

std::optional<json> parse_object(std::string_view body, api_error& error) {
  json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    error = api_error{400, "invalid_request_error", "the request body is not valid JSON", ""};
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    error = api_error{400, "invalid_request_error", "the request body must be a JSON object", ""};
    return std::nullopt;
  }
  return parsed;
}

json usage_json(const completion_usage& u) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json base_object(const completion_identity& who, bool chunk) {
  const char* object =
      who.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return json{{"id", who.id}, {"object", object}, {"created", who.created}, {"model", who.model}};
}

}  // namespace

std::string error_body(const api_error& e) {
  json code = e.code.empty() ? json(e.http_status) : json(e.code);
  return json{{"error", {{"message", e.message}, {"type", e.type}, {"code", code}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::variant<completion_request, api_error> parse_completion_request(
    std::string_view body, bool chat, const generation_options& defaults) {
  api_error error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  completion_request req;
  req.chat = chat;
  req.options = defaults;
  req.options.stop_strings.clear();
  if (chat) {
    if (auto e = read_messages(*parsed, req.messages)) return *e;
  } else {
    if (auto e = read_prompt(*parsed, req.prompt)) return *e;
  }
  if (auto e = read_options(*parsed, req)) return *e;
  return req;
}

std::variant<tokenize_request, api_error> parse_tokenize_request(std::string_view body) {
  api_error error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  tokenize_request req;
  auto content = parsed->find("content");
  if (content == parsed->end() || !content->is_string()) {
    return bad_field("content", "is required and must be a string");
  }
  req.content = content->get<std::string>();
  if (auto e = read_bool(*parsed, "add_special", req.add_special)) return *e;
  if (auto e = read_bool(*parsed, "with_pieces", req.with_pieces)) return *e;
  return req;
}

std::variant<std::vector<int32_t>, api_error> parse_detokenize_request(std::string_view body,
                                                                       int32_t vocab_size) {
  api_error error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  auto tokens = parsed->find("tokens");
  if (tokens == parsed->end() || !tokens->is_array()) {
    return bad_field("tokens", "is required and must be an array of token ids");
  }
  std::vector<int32_t> ids;
  for (const json& t : *tokens) {
    if (!t.is_number_integer()) return bad_field("tokens", "must hold integers only");
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id >= vocab_size) {
      return bad_field("tokens", "holds " + std::to_string(id) + ", outside the vocabulary [0, " +
                                     std::to_string(vocab_size) + ")");
    }
    ids.push_back(int32_t(id));
  }
  return ids;
}

const char* finish_reason(stop_reason reason) {
  switch (reason) {
    case stop_reason::max_tokens:
    case stop_reason::context_full:
      return "length";
    case stop_reason::end_of_generation:
    case stop_reason::stop_string:
    case stop_reason::cancelled:
      return "stop";
  }
  return "stop";
}

json text_value(const std::string& text) {
  // Round-trip through dump with replacement: invalid UTF-8 becomes U+FFFD.
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace));
}

json completion_reply(const completion_identity& who, const std::string& text, stop_reason reason,
                      const completion_usage& usage) {
  json reply = base_object(who, /*chunk=*/false);
  json choice{{"index", 0}, {"finish_reason", finish_reason(reason)}};
  if (who.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text_value(text)}};
  } else {
    choice["text"] = text_value(text);
    choice["logprobs"] = nullptr;
  }
  reply["choices"] = json::array({choice});
  reply["usage"] = usage_json(usage);
  return reply;
}

json first_chunk(const completion_identity& who) {
  json chunk = base_object(who, /*chunk=*/true);
  json choice{{"index", 0}, {"finish_reason", nullptr}};
  if (who.chat) {
    choice["delta"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    choice["text"] = "";
    choice["logprobs"] = nullptr;
  }
  chunk["choices"] = json::array({choice});
  return chunk;
}

json text_chunk_json(const completion_identity& who, const std::string& text) {
  json chunk = base_object(who, /*chunk=*/true);
  json choice{{"index", 0}, {"finish_reason", nullptr}};
  if (who.chat) {
    choice["delta"] = {{"content", text_value(text)}};
  } else {
    choice["text"] = text_value(text);
    choice["logprobs"] = nullptr;
  }
  chunk["choices"] = json::array({choice});
  return chunk;
}

json last_chunk(const completion_identity& who, stop_reason reason) {
  json chunk = base_object(who, /*chunk=*/true);
  json choice{{"index", 0}, {"finish_reason", finish_reason(reason)}};
  if (who.chat) {
    choice["delta"] = json::object();
  } else {
    choice["text"] = "";
    choice["logprobs"] = nullptr;
  }
  chunk["choices"] = json::array({choice});
  return chunk;
}

json usage_chunk(const completion_identity& who, const completion_usage& usage) {
  json chunk = base_object(who, /*chunk=*/true);
  chunk["choices"] = json::array();
  chunk["usage"] = usage_json(usage);
  return chunk;
}

std::string sse_event(const json& payload) {
  return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace corolla
