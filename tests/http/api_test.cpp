// The HTTP face's plain parts: request parsing and reply shapes (openai_api), the session
// pool's choice and bounds, the swarm view's coverage and events, Prometheus text.
#include <gtest/gtest.h>

#include "http/metrics.hpp"
#include "http/openai_api.hpp"
#include "http/session_pool.hpp"
#include "http/swarm_view.hpp"

namespace corolla {
namespace {

using json = nlohmann::json;

completion_request parse_ok(const json& body, bool chat = true) {
  auto r = parse_completion_request(body.dump(), chat, generation_options{});
  if (auto* e = std::get_if<api_error>(&r)) ADD_FAILURE() << e->message;
  return std::get_if<completion_request>(&r) ? std::get<completion_request>(r)
                                             : completion_request{};
}

std::string refusal(const std::string& body, bool chat = true) {
  auto r = parse_completion_request(body, chat, generation_options{});
  if (auto* e = std::get_if<api_error>(&r)) {
    EXPECT_EQ(e->http_status, 400);
    return e->message;
  }
  ADD_FAILURE() << "accepted: " << body;
  return "";
}

TEST(OpenAiApi, ParsesAChatRequestWithEveryOption) {
  const completion_request r = parse_ok(
      {{"model", "m"},
       {"messages",
        {{{"role", "developer"}, {"content", "Be brief."}},
         {{"role", "user"},
          {"content",
           {{{"type", "text"}, {"text", "Hi "}}, {{"type", "text"}, {"text", "there"}}}}}}},
       {"max_completion_tokens", 7},
       {"temperature", 0.5},
       {"top_p", 0.9},
       {"seed", 11},
       {"stop", {"a", "bc"}},
       {"stream", true},
       {"stream_options", {{"include_usage", true}}},
       {"unknown_field", {1, 2, 3}}});
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.options.max_tokens, 7);
  EXPECT_TRUE(r.max_tokens_given);
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.top_p, 0.9f);
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.options.sampling.seed, 11u);
  EXPECT_EQ(r.options.stop_strings, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(parse_ok({{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"stop", "END"}})
                .options.stop_strings,
            std::vector<std::string>{"END"});
}

TEST(OpenAiApi, RefusesWhatItCanNotRunNamingTheField) {
  EXPECT_NE(refusal("[1,2]").find("JSON object"), std::string::npos);
  EXPECT_NE(refusal("{\"messages\": []}").find("messages"), std::string::npos);
  EXPECT_NE(refusal("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}").find("robot"),
            std::string::npos);
  const std::string m = "\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]";
  EXPECT_NE(refusal("{" + m + ", \"temperature\": \"warm\"}").find("temperature"),
            std::string::npos);
  EXPECT_NE(refusal("{" + m + ", \"max_tokens\": 0}").find("max_tokens"), std::string::npos);
  EXPECT_NE(refusal("{" + m + ", \"top_p\": 3}").find("top_p"), std::string::npos);
  EXPECT_NE(refusal("{" + m + ", \"stop\": [1]}").find("stop"), std::string::npos);
  EXPECT_NE(refusal("{" + m + ", \"n\": 2}").find("'n'"), std::string::npos);
  EXPECT_NE(refusal("{" + m + ", \"stream\": \"yes\"}").find("stream"), std::string::npos);
  EXPECT_NE(refusal("{\"prompt\": 5}", false).find("prompt"), std::string::npos);
  EXPECT_NE(refusal("{\"prompt\": \"\"}", false).find("prompt"), std::string::npos);
  EXPECT_NE(
      refusal("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}")
          .find("image_url"),
      std::string::npos);
}

TEST(OpenAiApi, ErrorBodiesAndRepliesHaveOpenAisShape) {
  const json e = json::parse(error_body(api_error{503, "unavailable_error", "busy", ""}));
  EXPECT_EQ(e["error"]["code"], 503);
  EXPECT_EQ(e["error"]["type"], "unavailable_error");
  EXPECT_EQ(e["error"]["message"], "busy");
  const completion_identity who{"chatcmpl-1", 5, "m", true};
  const json r = completion_reply(who, "hi", stop_reason::stop_string, {3, 2, 1});
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["usage"]["total_tokens"], 5);
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
  EXPECT_EQ(last_chunk(who, stop_reason::max_tokens)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(first_chunk(who)["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  // Bytes that are not UTF-8 are replaced, not passed on (or thrown on).
  EXPECT_EQ(text_value("a\xff").get<std::string>(), "a\xEF\xBF\xBD");
}

TEST(OpenAiApi, TokenizeAndDetokenizeRequests) {
  auto t = parse_tokenize_request("{\"content\": \"hi\", \"with_pieces\": true}");
  ASSERT_TRUE(std::holds_alternative<tokenize_request>(t));
  EXPECT_TRUE(std::get<tokenize_request>(t).with_pieces);
  EXPECT_TRUE(std::holds_alternative<api_error>(parse_tokenize_request("{\"content\": 1}")));
  auto d = parse_detokenize_request("{\"tokens\": [1, 2]}", 10);
  ASSERT_TRUE(std::holds_alternative<std::vector<int32_t>>(d));
  EXPECT_TRUE(
      std::holds_alternative<api_error>(parse_detokenize_request("{\"tokens\": [10]}", 10)));
  EXPECT_TRUE(
      std::holds_alternative<api_error>(parse_detokenize_request("{\"tokens\": [-1]}", 10)));
}

TEST(SessionPool, AdmitsUpToMaxActiveAndReusesTheLongestSharedPrefix) {
  session_pool pool(2, 2);
  auto a = pool.acquire({1, 2, 3});
  auto b = pool.acquire({1, 9});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->fresh && b->fresh);
  EXPECT_FALSE(pool.acquire({1}));  // both slots out
  EXPECT_TRUE(pool.release(a->id, {1, 2, 3, 4, 5}, true).empty());
  EXPECT_TRUE(pool.release(b->id, {1, 9, 9}, true).empty());
  EXPECT_EQ(pool.idle(), 2u);
  auto c = pool.acquire({1, 2, 3, 4, 5, 6});  // extends a's conversation
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->fresh);
  EXPECT_EQ(c->id, a->id);
  EXPECT_EQ(c->shared_tokens, 5u);
  auto d = pool.acquire({7});  // shares nothing but can not take b (shared <= min_shared)
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->fresh);
}

TEST(SessionPool, KeepsAtMostMaxIdleEvictingTheLeastRecentlyUsed) {
  session_pool pool(4, 1);
  auto a = pool.acquire({1});
  auto b = pool.acquire({2});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(pool.release(a->id, {1, 1}, true).empty());
  EXPECT_EQ(pool.release(b->id, {2, 2}, true), std::vector<uint64_t>{a->id});
  EXPECT_EQ(pool.evict_idle(), b->id);
  EXPECT_FALSE(pool.evict_idle());
  auto c = pool.acquire({3});
  ASSERT_TRUE(c);
  EXPECT_EQ(pool.release(c->id, {}, false), std::vector<uint64_t>{c->id});  // not kept: closed
  EXPECT_EQ(pool.active(), 0u);
}

server_record record(uint64_t id, const std::string& name, int64_t start, int64_t end,
                     double tput) {
  server_record r;
  r.server_id = id;
  r.name = name;
  r.start_block = start;
  r.end_block = end;
  r.throughput = tput;
  r.state = uint8_t(serving_state::online);
  r.model_id = "m";
  return r;
}

TEST(SwarmView, SumsThroughputPerBlockAndReportsMovesJoinsAndLeaves) {
  swarm_view view("m", 4);
  view.observe({record(1, "a", 0, 2, 10), record(2, "b", 1, 4, 5)}, 1000);
  EXPECT_EQ(view.block_throughput(), (std::vector<double>{10, 15, 5, 5}));
  EXPECT_TRUE(view.covered());
  server_record other = record(9, "x", 0, 4, 100);
  other.model_id = "another";
  view.observe({record(1, "a", 0, 2, 10), record(2, "b", 2, 3, 5), other}, 2000);
  EXPECT_EQ(view.moves(), 1);
  EXPECT_FALSE(view.covered());  // block 3 lost its server, and x serves another model
  view.observe({record(1, "a", 0, 2, 10)}, 3000);
  const json j = view.to_json();
  ASSERT_EQ(j["servers"].size(), 1u);
  ASSERT_GE(j["events"].size(), 4u);
  EXPECT_EQ(j["events"][0]["kind"], "leave");
  EXPECT_EQ(j["events"][1]["kind"], "move");
  recovery_report rr;
  rr.failed_server = "b";
  rr.replaced_by = {"c"};
  view.recovery(rr, 4000);
  EXPECT_EQ(view.to_json()["recoveries"], 1);
  EXPECT_NE(view.prometheus().find("corolla_bans_total 1"), std::string::npos);
}

TEST(Metrics, RendersPrometheusTextWithCumulativeBuckets) {
  gateway_metrics m;
  m.request("chat", "ok");
  m.request("chat", "ok");
  m.time_to_first_token(0.02);
  m.time_to_first_token(100);
  const std::string text = m.render();
  EXPECT_NE(text.find("corolla_requests_total{endpoint=\"chat\",outcome=\"ok\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("corolla_time_to_first_token_seconds_bucket{le=\"0.025\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("corolla_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("corolla_time_to_first_token_seconds_count 2"), std::string::npos);
  EXPECT_EQ(prometheus_label("a\"b\\"), "a\\\"b\\\\");
}

}  // namespace
}  // namespace corolla
