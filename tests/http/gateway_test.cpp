// The HTTP gateway in front of an in-process swarm (3 servers on a model-maker model), driven
// by a real HTTP client (cpp-httplib's) over a socket: answers, streams, errors, admission,
// cancellation and cache reuse across turns.
#include "http/gateway.hpp"

#include <httplib.h>

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "model/llama_model.hpp"
#include "model/model_id.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using json = nlohmann::json;

const std::string& model_path() {
  static const std::string path = [] {
    const std::string p = testing::temp_path("gateway-model.gguf");
    const status made = make_preset_model("stories260k", ggml_type::q8_0, 7, p);
    EXPECT_TRUE(made.ok()) << made.message();
    return p;
  }();
  return path;
}

// What the single-process generator writes for `prompt` at temperature 0.
std::string greedy_text(const std::string& prompt, int32_t max_tokens) {
  model_options mo;
  auto model = llama_model::load(model_path(), mo);
  EXPECT_TRUE(model.ok()) << model.error().message();
  local_blocks blocks(model->blocks(), 2048);
  generator gen(model->head(), model->tokenizer(), blocks, 2048);
  generation_options opt;
  opt.sampling.temperature = 0;
  opt.max_tokens = max_tokens;
  std::string text;
  const auto tokens = model->tokenizer().encode(prompt, true, true);
  auto stats = gen.generate(tokens, opt, [&](const std::string& t) {
    text += t;
    return true;
  });
  EXPECT_TRUE(stats.ok());
  return text;
}

// A streaming POST whose body goes to `receive` as it arrives (false: hang up).
httplib::Request stream_request(const std::string& path, const json& body,
                                std::function<bool(const char*, size_t)> receive) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [receive = std::move(receive)](const char* data, size_t n, uint64_t,
                                                        uint64_t) { return receive(data, n); };
  return req;
}

class Gateway : public ::testing::Test {
 protected:
  void start(gateway_options options = {}, std::vector<block_span> spans = {}) {
    local_swarm_options so;
    so.model_path = model_path();
    so.spans = std::move(spans);
    auto swarm = local_swarm::start(system_, so);
    ASSERT_TRUE(swarm.ok()) << swarm.error().message();
    swarm_ = std::move(*swarm);
    options.client = swarm_.client_defaults();
    options.client.push = true;
    options.model_name = "demo";
    auto id = model_fingerprint(model_path());
    ASSERT_TRUE(id.ok());
    options.model_id = *id;
    auto gateway = http_gateway::start(system_, options);
    ASSERT_TRUE(gateway.ok()) << gateway.error().message();
    gateway_ = std::move(*gateway);
  }

  void TearDown() override {
    if (gateway_) gateway_->stop();
    swarm_.stop();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", gateway_->port());
    c.set_read_timeout(std::chrono::seconds(30));
    return c;
  }

  json post(const std::string& path, const json& body, int expected_status = 200) {
    auto c = client();
    auto res = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(res) << "no answer from " << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << res->body;
    return json::parse(res->body, nullptr, false);
  }

  json swarm_status() {
    auto c = client();
    auto res = c.Get("/api/swarm");
    EXPECT_TRUE(res && res->status == 200);
    return res ? json::parse(res->body) : json();
  }

  node_config cfg_;
  caf::actor_system system_{cfg_};
  local_swarm swarm_;
  std::unique_ptr<http_gateway> gateway_;
};

TEST_F(Gateway, CompletionAtTemperatureZeroIsTheSingleProcessText) {
  start();
  const json reply = post("/v1/completions",
                          {{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}});
  EXPECT_EQ(reply["object"], "text_completion");
  EXPECT_EQ(reply["model"], "demo");
  EXPECT_EQ(reply["choices"][0]["text"], json(greedy_text("Once upon a time", 16)));
  EXPECT_EQ(reply["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(reply["usage"]["completion_tokens"], 16);
}

TEST_F(Gateway, StreamedChatHasTheRoleFirstTheReasonLastAndDone) {
  start();
  auto c = client();
  std::string body;
  httplib::Request req = stream_request("/v1/chat/completions",
                                        {{"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                                         {"max_tokens", 8},
                                         {"temperature", 0},
                                         {"stream", true},
                                         {"stream_options", {{"include_usage", true}}}},
                                        [&](const char* data, size_t n) {
                                          body.append(data, n);
                                          return true;
                                        });
  auto res = c.send(req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  std::vector<json> events;
  bool done = false;
  for (size_t at = 0; at < body.size();) {
    const size_t end = body.find("\n\n", at);
    ASSERT_NE(end, std::string::npos) << body;
    const std::string event = body.substr(at, end - at);
    ASSERT_EQ(event.rfind("data: ", 0), 0u) << event;
    if (event == "data: [DONE]") {
      done = true;
    } else {
      EXPECT_FALSE(done) << "an event after [DONE]";
      events.push_back(json::parse(event.substr(6)));
    }
    at = end + 2;
  }
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  const json& last = events[events.size() - 2];
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 8);
  for (const json& e : events) EXPECT_EQ(e["object"], "chat.completion.chunk");
}

// Speculation asked for in the body keeps the greedy text; a count out of range is refused.
TEST_F(Gateway, DraftTokensInTheBodySpeculateWithoutChangingTheGreedyText) {
  start();
  for (const char* key : {"draft_tokens", "speculative.n_max"}) {
    SCOPED_TRACE(key);
    const json reply =
        post("/v1/completions",
             {{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}, {key, 4}});
    EXPECT_EQ(reply["choices"][0]["text"], json(greedy_text("Once upon a time", 16)));
    const json e = post("/v1/completions", {{"prompt", "Once"}, {key, 17}}, 400);
    EXPECT_NE(e["error"]["message"].get<std::string>().find("'" + std::string(key) +
                                                            "' must be in 0..16"),
              std::string::npos)
        << e.dump();
  }
}

TEST_F(Gateway, TheSameSeedGivesTheSameText) {
  start();
  const json body{{"prompt", "The cat"}, {"max_tokens", 24}, {"temperature", 1.0}, {"seed", 42}};
  const json a = post("/v1/completions", body);
  const json b = post("/v1/completions", body);
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
}

TEST_F(Gateway, BadRequestsAreRefusedNamingTheProblem) {
  start();
  auto c = client();
  auto malformed = c.Post("/v1/chat/completions", "{not json", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_NE(malformed->body.find("not valid JSON"), std::string::npos);
  json e = post("/v1/chat/completions", {{"messages", json::array()}}, 400);
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("messages"), std::string::npos);
  e = post("/v1/chat/completions",
           {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", "ten"}}, 400);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("max_tokens"), std::string::npos);
  std::string long_prompt;
  for (int i = 0; i < 3000; ++i) long_prompt += "once ";
  e = post("/v1/completions", {{"prompt", long_prompt}}, 400);
  EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
  auto missing = c.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(json::parse(missing->body).contains("error"));
}

TEST_F(Gateway, AnApiKeyIsRequiredWhenSetAndABodyTooLargeIsRefused) {
  gateway_options o;
  o.api_key = "s3cret";
  o.max_body_bytes = 4096;
  start(o);
  const json body{{"prompt", "Once"}, {"max_tokens", 2}};
  json e = post("/v1/completions", body, 401);
  EXPECT_EQ(e["error"]["type"], "authentication_error");
  auto c = client();
  c.set_bearer_token_auth("wrong");
  auto wrong = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  c.set_bearer_token_auth("s3cret");
  auto right = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200) << right->body;
  auto big = c.Post("/v1/completions", std::string(8192, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto health = client().Get("/health");  // no key needed: load balancers probe it
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(Gateway, HealthIs503UntilTheSwarmCoversTheModel) {
  start({}, {{0, 2}});  // blocks [2, 5) served by nobody
  auto res = client().Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  json e = post("/v1/completions", {{"prompt", "Once"}}, 503);
  EXPECT_EQ(e["error"]["type"], "unavailable_error");
  EXPECT_FALSE(swarm_status()["covered"].get<bool>());
}

// A streaming request whose reader waits: the gateway's one slot stays taken.
TEST_F(Gateway, BeyondMaxRequestsItAnswers503WithRetryAfter) {
  gateway_options o;
  o.max_requests = 1;
  start(o);
  std::promise<void> first_chunk;
  std::promise<void> second_done;
  auto second_done_f = second_done.get_future().share();
  std::thread holder([&] {
    auto c = client();
    bool signalled = false;
    httplib::Request req = stream_request(
        "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 1500}, {"stream", true}},
        [&](const char*, size_t) {
          if (!signalled) {
            signalled = true;
            first_chunk.set_value();
            second_done_f.wait();
          }
          return false;  // then hang up
        });
    c.send(req);
  });
  first_chunk.get_future().wait();
  auto c = client();
  auto busy = c.Post("/v1/completions", json{{"prompt", "Once"}, {"max_tokens", 2}}.dump(),
                     "application/json");
  second_done.set_value();
  holder.join();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
}

TEST_F(Gateway, AClientThatHangsUpStopsItsGenerationAndFreesTheCaches) {
  start();
  auto c = client();
  int chunks = 0;
  httplib::Request req = stream_request(
      "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 1800}, {"stream", true}},
      [&](const char*, size_t) { return ++chunks < 3; });
  c.send(req);
  // The gateway notices at its next write, stops the client and closes its session.
  json status;
  for (int i = 0; i < 100; ++i) {
    status = swarm_status();
    int64_t sessions = 0;
    for (const json& s : status["servers"]) sessions += s["sessions"].get<int64_t>();
    if (status["gateway"]["open_requests"] == 0 && status["gateway"]["kept_sessions"] == 0 &&
        sessions == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status["gateway"]["open_requests"], 0) << status.dump();
  EXPECT_EQ(status["gateway"]["kept_sessions"], 0) << status.dump();
  for (const json& s : status["servers"]) EXPECT_EQ(s["sessions"], 0) << status.dump();
  auto metrics = client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "corolla_requests_total{endpoint=\"completions\",outcome=\"cancelled\"} 1"),
            std::string::npos)
      << metrics->body;
}

TEST_F(Gateway, TheNextTurnOfAConversationReusesTheCaches) {
  start();
  const std::string first = "Once upon a time there was a little dog";
  const json a =
      post("/v1/completions", {{"prompt", first}, {"max_tokens", 20}, {"temperature", 0}});
  EXPECT_EQ(a["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  const std::string second = first + a["choices"][0]["text"].get<std::string>() + " The end.";
  const json b =
      post("/v1/completions", {{"prompt", second}, {"max_tokens", 4}, {"temperature", 0}});
  const int64_t first_tokens = a["usage"]["prompt_tokens"].get<int64_t>();
  EXPECT_GE(b["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), first_tokens)
      << b.dump();
  // An unrelated prompt starts a session of its own.
  const json c = post("/v1/completions", {{"prompt", "Zebra"}, {"max_tokens", 2}});
  EXPECT_LE(c["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), 1);
}

TEST_F(Gateway, MetricsAndTheStatusPageDescribeTheSwarm) {
  start();
  post("/v1/completions", {{"prompt", "Once"}, {"max_tokens", 4}});
  auto c = client();
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name :
       {"corolla_requests_total{endpoint=\"completions\",outcome=\"ok\"} 1",
        "corolla_generated_tokens_total 4", "corolla_time_to_first_token_seconds_count 1",
        "corolla_time_per_token_seconds_count 1", "corolla_swarm_servers 3",
        "corolla_server_kv_rows{", "corolla_balancer_moves_total 0", "corolla_swarm_covered 1"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name << "\n" << metrics->body;
  }
  const json s = swarm_status();
  EXPECT_TRUE(s["covered"].get<bool>());
  ASSERT_EQ(s["servers"].size(), 3u);
  EXPECT_EQ(s["blocks"].size(), 5u);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/api/swarm"), std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos)
      << "the page loads nothing from elsewhere";
}

}  // namespace
}  // namespace corolla
