// http_face: starting the HTTP gateway (http/gateway.hpp) from a program's settings — the
// model's name and fingerprint from its file, sampling defaults — shared by actor-node
// and actor-chat --local --http.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "http/gateway.hpp"

namespace corolla {

struct http_settings {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string api_key;
  int64_t max_requests = 16;
  int64_t kept_sessions = 8;
};

// Parses "HOST:PORT" (PORT 0: a free one) into out.host and out.port; false when it is not
// that (the --http flag of actor-chat, the http key of actor-node).
bool parse_http_address(const std::string& text, http_settings& out);

// Serves the API for the swarm `client` reaches. Errors: the model file's, the gateway's.
result<std::unique_ptr<http_gateway>> start_http(caf::actor_system& system,
                                                 const http_settings& settings,
                                                 client_config client,
                                                 const std::string& model_path,
                                                 const generation_options& defaults);

// "serving the OpenAI API on http://127.0.0.1:8080 (status page /, metrics /metrics)"
std::string http_banner(const http_gateway& gateway);

}  // namespace corolla
