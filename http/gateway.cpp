#include "http/gateway.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "http/metrics.hpp"
#include "http/openai_api.hpp"
#include "http/session_pool.hpp"
#include "http/status_page.hpp"
#include "http/swarm_view.hpp"
#include "messages/caf_types.hpp"
#include "messages/client.hpp"
#include "model/chat_template.hpp"

namespace corolla {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// How long a generation may go without a word from its client actor: the session's own
// watchdog and failover budget end a stuck step long before (client_config).
constexpr auto kSilenceLimit = std::chrono::minutes(5);
constexpr auto kPollPeriod = std::chrono::milliseconds(1000);

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Compares in time independent of where the strings differ (the key is a secret).
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

void send_error(httplib::Response& res, const api_error& e) {
  res.status = e.http_status;
  res.set_content(error_body(e), "application/json");
}

std::string random_suffix(std::mt19937_64& rng) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  for (int i = 0; i < 24; ++i) s += digits[rng() % 36];
  return s;
}

// What one generation produced, as the gateway saw it.
struct generation_outcome {
  bool ok = false;
  bool cancelled = false;  // the HTTP client went away
  std::string error;
  generate_reply reply;
  double first_token_s = -1;  // from the request's arrival
};

completion_usage usage_of(const generation_outcome& o, int64_t prompt_tokens) {
  return completion_usage{prompt_tokens, o.reply.stats.generated_tokens(),
                          prompt_tokens - o.reply.stats.prompt_tokens};
}

}  // namespace

struct http_gateway::impl {
  caf::actor_system& system;
  gateway_options options;
  std::shared_ptr<const llama_model> model;
  int64_t context = 0;
  httplib::Server server;
  std::thread listener;
  std::thread poller;
  uint16_t bound_port = 0;

  std::mutex mu;  // pool, clients, view, rng
  std::condition_variable stopping_cv;
  bool stopping = false;
  session_pool pool;
  std::map<uint64_t, caf::actor> clients;  // by lease id
  swarm_view view;
  std::mt19937_64 rng{std::random_device{}()};
  gateway_metrics metrics;

  impl(caf::actor_system& sys, gateway_options opts)
      : system(sys),
        options(std::move(opts)),
        model(options.client.head_model),
        pool(options.max_requests, options.kept_sessions),
        view(options.model_id, model->config().n_blocks) {
    const llama_config& c = model->config();
    context = options.client.max_tokens > 0 ? options.client.max_tokens
                                            : std::min<int64_t>(c.context_length, 4096);
    options.client.max_tokens = context;
  }

  // --- the swarm ---------------------------------------------------------------------

  void poll_once() {
    caf::scoped_actor self{system};
    self->request(options.client.routing_table, std::chrono::seconds(2), list_atom::value)
        .receive(
            [&](const std::vector<server_record>& records) {
              std::lock_guard<std::mutex> lock(mu);
              view.observe(records, wall_ms());
            },
            [](const caf::error&) {});
  }

  // start() polls once before serving; from then on every kPollPeriod.
  void poll_loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping_cv.wait_for(lock, kPollPeriod, [&] { return stopping; })) {
      lock.unlock();
      poll_once();
      lock.lock();
    }
  }

  // "" when a route covers every block now; else why not.
  std::string uncovered() {
    caf::scoped_actor self{system};
    std::string why;
    self->request(options.client.routing_table, std::chrono::seconds(2),
                  route_request{0, model->config().n_blocks, {}})
        .receive([](const std::vector<route_hop>&) {},
                 [&](const caf::error& e) { why = describe(e); });
    return why;
  }

  // --- sessions ----------------------------------------------------------------------

  void close_clients(const std::vector<uint64_t>& ids) {
    std::vector<caf::actor> closing;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (uint64_t id : ids) {
        auto it = clients.find(id);
        if (it == clients.end()) continue;
        closing.push_back(it->second);
        clients.erase(it);
      }
    }
    for (const caf::actor& c : closing) stop_client(c);
  }

  // A new client for lease `id`; when the servers refuse it (their KV budget is held by
  // kept sessions), kept sessions are closed one by one and it tries again.
  result<caf::actor> open_client(uint64_t id) {
    for (;;) {
      result<caf::actor> started = start_client(system, options.client);
      if (started.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        clients[id] = *started;
        return started;
      }
      std::optional<uint64_t> evicted;
      {
        std::lock_guard<std::mutex> lock(mu);
        evicted = pool.evict_idle();
      }
      if (!evicted) return started;
      close_clients({*evicted});
    }
  }

  void finish_lease(uint64_t id, std::vector<int32_t> context_tokens, bool keep) {
    std::vector<uint64_t> closed;
    {
      std::lock_guard<std::mutex> lock(mu);
      closed = pool.release(id, std::move(context_tokens), keep);
      metrics.set_open_requests(int64_t(pool.active()), int64_t(pool.idle()));
    }
    close_clients(closed);
  }

  // Runs one generation on `client`, passing text to on_text (false: the HTTP client is
  // gone, the generation is stopped).
  generation_outcome generate(const caf::actor& client, generate_request req,
                              clock_type::time_point arrived,
                              const std::function<bool(const std::string&)>& on_text) {
    generation_outcome out;
    caf::scoped_actor self{system};
    self->send(client, std::move(req));
    bool done = false;
    bool stop_sent = false;
    self->receive_while([&] { return !done; })(
        [&](const text_chunk& c) {
          if (out.first_token_s < 0) out.first_token_s = seconds_since(arrived);
          if (stop_sent) return;
          if (!on_text(c.text)) {
            self->send(client, stop_atom::value);
            stop_sent = true;
            out.cancelled = true;
          }
        },
        [&](generate_reply& r) {
          out.ok = true;
          out.reply = std::move(r);
          done = true;
        },
        [&](const caf::error& e) {
          out.error = describe(e);
          done = true;
        },
        caf::after(kSilenceLimit) >>
            [&] {
              out.error = "the swarm said nothing for 5 minutes";
              done = true;
            });
    if (out.first_token_s < 0) out.first_token_s = seconds_since(arrived);
    return out;
  }

  void record(const generation_outcome& o, int64_t prompt_tokens) {
    const int64_t generated = int64_t(o.reply.stats.tokens.size());
    metrics.tokens(prompt_tokens, generated);
    metrics.time_to_first_token(o.first_token_s);
    if (generated > 1) {
      metrics.time_per_token(o.reply.stats.generate_ms / 1000.0 / double(generated - 1));
    }
    metrics.recoveries(int64_t(o.reply.recoveries.size()));
    std::lock_guard<std::mutex> lock(mu);
    for (const recovery_report& r : o.reply.recoveries) view.recovery(r, wall_ms());
  }

  // --- endpoints ---------------------------------------------------------------------

  bool authorized(const httplib::Request& req, httplib::Response& res, const char* endpoint) {
    if (options.api_key.empty()) return true;
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const bool ok = header.compare(0, prefix.size(), prefix) == 0 &&
                    same_secret(header.substr(prefix.size()), options.api_key);
    if (ok) return true;
    metrics.request(endpoint, "unauthorized");
    send_error(res, api_error{401, "authentication_error",
                              header.empty() ? "an API key is required: Authorization: Bearer KEY"
                                             : "the API key is not valid",
                              "invalid_api_key"});
    return false;
  }

  void handle_generate(const httplib::Request& http_req, httplib::Response& res, bool chat) {
    const auto arrived = clock_type::now();
    const char* endpoint = chat ? "chat" : "completions";
    if (!authorized(http_req, res, endpoint)) return;
    auto parsed = parse_completion_request(http_req.body, chat, options.defaults);
    if (auto* e = std::get_if<api_error>(&parsed)) {
      metrics.request(endpoint, "invalid");
      return send_error(res, *e);
    }
    completion_request req = std::get<completion_request>(std::move(parsed));
    const tokenizer& tok = model->tokenizer();
    std::string prompt = req.prompt;
    if (chat) {
      const chat_format format = model->chat();
      prompt = render_chat(format, req.messages, /*add_generation_prompt=*/true);
      for (const std::string& s : chat_stop_strings(format)) req.options.stop_strings.push_back(s);
    }
    std::vector<int32_t> tokens = tok.encode(prompt, /*add_bos=*/true, /*parse_special=*/true);
    if (int64_t(tokens.size()) >= context) {
      metrics.request(endpoint, "invalid");
      return send_error(res, api_error{400, "invalid_request_error",
                                       "the prompt's " + std::to_string(tokens.size()) +
                                           " tokens do not fit the context of " +
                                           std::to_string(context) + " tokens",
                                       "context_length_exceeded"});
    }
    if (!req.max_tokens_given) req.options.max_tokens = int32_t(context - int64_t(tokens.size()));
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!req.seed_given) req.options.sampling.seed = rng();
    }
    if (const std::string why = uncovered(); !why.empty()) {
      metrics.request(endpoint, "unavailable");
      res.set_header("Retry-After", "5");
      return send_error(res, api_error{503, "unavailable_error",
                                       "the swarm does not cover the model now: " + why, ""});
    }
    std::optional<session_pool::lease> lease;
    {
      std::lock_guard<std::mutex> lock(mu);
      lease = pool.acquire(tokens);
      metrics.set_open_requests(int64_t(pool.active()), int64_t(pool.idle()));
    }
    if (!lease) {
      metrics.request(endpoint, "busy");
      res.set_header("Retry-After", "1");
      return send_error(res,
                        api_error{503, "unavailable_error",
                                  "the server is busy: " + std::to_string(options.max_requests) +
                                      " requests are running; try again shortly",
                                  ""});
    }
    caf::actor client;
    if (lease->fresh) {
      result<caf::actor> opened = open_client(lease->id);
      if (!opened.ok()) {
        finish_lease(lease->id, {}, false);
        metrics.request(endpoint, "unavailable");
        res.set_header("Retry-After", "5");
        return send_error(res,
                          api_error{503, "unavailable_error",
                                    "no session could be opened: " + opened.error().message(), ""});
      }
      client = *opened;
    } else {
      std::lock_guard<std::mutex> lock(mu);
      client = clients[lease->id];
    }

    std::string id_text;
    {
      std::lock_guard<std::mutex> lock(mu);
      id_text = (chat ? "chatcmpl-" : "cmpl-") + random_suffix(rng);
    }
    completion_identity who{id_text, wall_ms() / 1000,
                            req.model.empty() ? options.model_name : req.model, chat};
    generate_request gen;
    gen.options = req.options;
    gen.tokens = tokens;
    const uint64_t lease_id = lease->id;
    const int64_t prompt_tokens = int64_t(tokens.size());

    auto conclude = [this, lease_id, tokens, prompt_tokens, endpoint](const generation_outcome& o) {
      const bool keep = o.ok && !o.cancelled;
      std::vector<int32_t> held = tokens;
      held.insert(held.end(), o.reply.stats.tokens.begin(), o.reply.stats.tokens.end());
      finish_lease(lease_id, std::move(held), keep);
      if (o.ok) record(o, prompt_tokens);
      metrics.request(endpoint, o.cancelled ? "cancelled" : o.ok ? "ok" : "failed");
    };

    if (!req.stream) {
      std::string text;
      generation_outcome o = generate(client, std::move(gen), arrived, [&](const std::string& t) {
        text += t;
        return true;
      });
      conclude(o);
      if (!o.ok) {
        return send_error(res, api_error{500, "server_error", "generation failed: " + o.error, ""});
      }
      res.set_content(completion_reply(who, text, o.reply.stats.reason, usage_of(o, prompt_tokens))
                          .dump(-1, ' ', false, json::error_handler_t::replace),
                      "application/json");
      return;
    }

    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, client, gen = std::move(gen), who, arrived, include_usage = req.include_usage,
         prompt_tokens, conclude](size_t, httplib::DataSink& sink) mutable {
          auto write = [&](const std::string& event) {
            return sink.is_writable() && sink.write(event.data(), event.size());
          };
          bool open = write(sse_event(first_chunk(who)));
          generation_outcome o =
              generate(client, std::move(gen), arrived, [&](const std::string& t) {
                open = open && write(sse_event(text_chunk_json(who, t)));
                return open;
              });
          if (!open) o.cancelled = true;
          conclude(o);
          if (o.cancelled) return false;  // the connection is gone
          if (!o.ok) {
            write(sse_event(json::parse(
                error_body(api_error{500, "server_error", "generation failed: " + o.error, ""}))));
          } else {
            write(sse_event(last_chunk(who, o.reply.stats.reason)));
            if (include_usage) {
              write(sse_event(usage_chunk(who, usage_of(o, prompt_tokens))));
            }
          }
          write("data: [DONE]\n\n");
          sink.done();
          return true;
        });
  }

  void handle_tokenize(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res, "tokenize")) return;
    auto parsed = parse_tokenize_request(req.body);
    if (auto* e = std::get_if<api_error>(&parsed)) {
      metrics.request("tokenize", "invalid");
      return send_error(res, *e);
    }
    const tokenize_request& t = std::get<tokenize_request>(parsed);
    const tokenizer& tok = model->tokenizer();
    const std::vector<int32_t> ids = tok.encode(t.content, t.add_special, /*parse_special=*/true);
    json tokens = json::array();
    for (int32_t id : ids) {
      if (t.with_pieces) {
        tokens.push_back({{"id", id}, {"piece", text_value(tok.piece(id))}});
      } else {
        tokens.push_back(id);
      }
    }
    metrics.request("tokenize", "ok");
    res.set_content(json{{"tokens", tokens}}.dump(), "application/json");
  }

  void handle_detokenize(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res, "detokenize")) return;
    auto parsed = parse_detokenize_request(req.body, model->tokenizer().size());
    if (auto* e = std::get_if<api_error>(&parsed)) {
      metrics.request("detokenize", "invalid");
      return send_error(res, *e);
    }
    metrics.request("detokenize", "ok");
    const std::string text = model->tokenizer().decode(std::get<std::vector<int32_t>>(parsed));
    res.set_content(json{{"content", text_value(text)}}.dump(), "application/json");
  }

  json models_json() const {
    const llama_config& c = model->config();
    return json{{"object", "list"},
                {"data", json::array({{{"id", options.model_name},
                                       {"object", "model"},
                                       {"created", 0},
                                       {"owned_by", "corolla"},
                                       {"meta",
                                        {{"fingerprint", options.model_id},
                                         {"n_blocks", c.n_blocks},
                                         {"dim", c.dim},
                                         {"n_vocab", c.vocab_size},
                                         {"n_ctx", context},
                                         {"chat_template", to_string(model->chat())}}}}})}};
  }

  json status_json() {
    poll_once();  // a page or scraper sees the table as it is now, not up to a poll period old
    std::lock_guard<std::mutex> lock(mu);
    json out = view.to_json();
    out["model_name"] = options.model_name;
    out["context"] = context;
    out["gateway"] = {{"open_requests", pool.active()},
                      {"max_requests", options.max_requests},
                      {"kept_sessions", pool.idle()},
                      {"api_key_required", !options.api_key.empty()}};
    return out;
  }

  void routes() {
    server.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) {
      handle_generate(q, r, true);
    });
    server.Post("/chat/completions", [this](const httplib::Request& q, httplib::Response& r) {
      handle_generate(q, r, true);
    });
    server.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) {
      handle_generate(q, r, false);
    });
    server.Post("/completions", [this](const httplib::Request& q, httplib::Response& r) {
      handle_generate(q, r, false);
    });
    server.Post("/tokenize",
                [this](const httplib::Request& q, httplib::Response& r) { handle_tokenize(q, r); });
    server.Post("/detokenize", [this](const httplib::Request& q, httplib::Response& r) {
      handle_detokenize(q, r);
    });
    auto models = [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r, "models")) return;
      metrics.request("models", "ok");
      r.set_content(models_json().dump(), "application/json");
    };
    server.Get("/v1/models", models);
    server.Get("/models", models);
    server.Get("/health", [this](const httplib::Request&, httplib::Response& r) {
      const std::string why = uncovered();
      if (why.empty()) {
        r.set_content(json{{"status", "ok"}}.dump(), "application/json");
        return;
      }
      send_error(
          r, api_error{503, "unavailable_error", "the swarm does not cover the model: " + why, ""});
    });
    server.Get("/metrics", [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r, "metrics")) return;
      poll_once();
      std::string text = metrics.render();
      {
        std::lock_guard<std::mutex> lock(mu);
        text += view.prometheus();
      }
      r.set_content(text, "text/plain; version=0.0.4");
    });
    server.Get("/api/swarm", [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r, "swarm")) return;
      r.set_content(status_json().dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json");
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& r) {
      r.set_content(status_page_html(), "text/html; charset=utf-8");
    });
    server.set_error_handler([](const httplib::Request&, httplib::Response& r) {
      if (!r.body.empty()) return;
      const std::string message = r.status == 404   ? "no such endpoint"
                                  : r.status == 413 ? "the request body is too large"
                                                    : "the request could not be served";
      r.set_content(error_body(api_error{
                        r.status, r.status == 404 ? "not_found_error" : "invalid_request_error",
                        message, ""}),
                    "application/json");
    });
  }
};

http_gateway::http_gateway(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_gateway::~http_gateway() {
  stop();
}

result<std::unique_ptr<http_gateway>> http_gateway::start(caf::actor_system& system,
                                                          gateway_options options) {
  if (!options.client.head_model || !options.client.head_model->has_head()) {
    return status::invalid_argument("the HTTP gateway needs the model's head");
  }
  if (!options.client.routing_table) {
    return status::invalid_argument("the HTTP gateway needs a routing table");
  }
  if (options.max_requests == 0) {
    return status::invalid_argument("http-max-requests must be at least 1");
  }
  auto p = std::make_unique<impl>(system, std::move(options));
  impl& g = *p;
  const size_t workers = g.options.max_requests + 8;  // room to answer 503s and status
  g.server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  g.server.set_payload_max_length(g.options.max_body_bytes);
  g.server.set_read_timeout(std::chrono::seconds(10));
  g.server.set_write_timeout(std::chrono::seconds(30));
  g.routes();
  const std::string& host = g.options.host;
  if (g.options.port == 0) {
    const int port = g.server.bind_to_any_port(host);
    if (port <= 0) {
      return status::io_error("http: can not listen on " + host +
                              " (is it an address of this machine?)");
    }
    g.bound_port = uint16_t(port);
  } else {
    if (!g.server.bind_to_port(host, g.options.port)) {
      return status::io_error("http: can not listen on " + host + ":" +
                              std::to_string(g.options.port) +
                              " (address already in use, or not an address of this machine)");
    }
    g.bound_port = g.options.port;
  }
  g.poll_once();
  g.listener = std::thread([&g] { g.server.listen_after_bind(); });
  g.poller = std::thread([&g] { g.poll_loop(); });
  return std::unique_ptr<http_gateway>(new http_gateway(std::move(p)));
}

uint16_t http_gateway::port() const {
  return impl_->bound_port;
}

std::string http_gateway::url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->bound_port);
}

void http_gateway::stop() {
  if (!impl_) return;
  impl& g = *impl_;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.stopping) return;
    g.stopping = true;
  }
  g.stopping_cv.notify_all();
  g.server.stop();
  if (g.listener.joinable()) g.listener.join();
  if (g.poller.joinable()) g.poller.join();
  std::vector<caf::actor> open;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    for (auto& [id, c] : g.clients) open.push_back(c);
    g.clients.clear();
  }
  for (const caf::actor& c : open) stop_client(c);
}

}  // namespace corolla
