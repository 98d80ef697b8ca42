// gateway: the swarm behind an OpenAI-compatible HTTP API, a status page and metrics,
// served by any process that has a routing table (actor-node with `http = HOST:PORT`,
// actor-chat --local --http, or an application embedding Corolla).
//
//   HTTP client ──POST /v1/chat/completions──▶ worker thread ──generate_request──▶ client
//               ◀──JSON or text/event-stream── (scoped actor) ◀──text_chunk...────  actor
//
// Each request runs on a client actor (its own session through the swarm) leased from a
// session_pool: concurrent requests are concurrent sessions, which the servers batch; a
// finished session stays open for its conversation's next turn (http/session_pool.hpp).
// Beyond max_requests the gateway answers 503 with Retry-After; a client that hangs up
// mid-stream stops its generation and its session is closed (the servers free its caches).
//
// Endpoints: POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize;
// GET /v1/models, /health (503 until the swarm covers the model), /metrics (Prometheus),
// / (the status page) and /api/swarm (its data as JSON).
// Depends on actors/ (never the other way); the JSON shapes live in http/openai_api.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/client.hpp"
#include "model/generator.hpp"
#include "model/status.hpp"

namespace corolla {

struct gateway_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;         // 0: a free one (port() tells which)
  std::string api_key;       // "": no key; else every API call needs "Authorization: Bearer KEY"
  size_t max_requests = 16;  // generations at once; more get 503 + Retry-After
  size_t kept_sessions = 8;  // finished sessions kept open for the next turn
  size_t max_body_bytes = size_t(1) << 20;
  std::string model_name;       // /v1/models' id
  std::string model_id;         // the model's fingerprint (model/model_id.hpp)
  generation_options defaults;  // sampling for fields a request leaves out
  // The template of every request's client: head, routing table, codec, context, push.
  client_config client;
};

class http_gateway {
 public:
  // Binds host:port and starts serving. Errors: io_error naming the address when it can
  // not be listened on; invalid_argument without a head model or a routing table.
  static result<std::unique_ptr<http_gateway>> start(caf::actor_system& system,
                                                     gateway_options options);
  ~http_gateway();

  uint16_t port() const;
  std::string url() const;  // "http://host:port"
  // Stops serving and closes every kept session. Idempotent.
  void stop();

  struct impl;

 private:
  explicit http_gateway(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace corolla
