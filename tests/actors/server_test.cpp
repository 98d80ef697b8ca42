// A server's contract with its sessions, spoken to directly: admission against the
// KV-cache budget, explicit positions (append, truncate-then-append, no gaps), and
// malformed requests answered with errors while the server goes on serving.
#include <gtest/gtest.h>

#include <caf/scoped_actor.hpp>

#include "actors/server.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"
#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::shared_exists("models/stories260K.gguf")) {
      GTEST_SKIP() << "../shared/models/stories260K.gguf absent";
    }
    auto file = gguf_file::open(testing::stories_path());
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto config = read_llama_config(*file);
    ASSERT_TRUE(config.ok()) << config.error().to_string();
    // Room for one full-context session and a short one, not for two full ones.
    full_context = config->context_length;
    local_swarm_options options;
    options.model_path = testing::stories_path();
    options.servers = 1;
    options.kv_budget_bytes = session_reservation_bytes(*config, 5, full_context) * 3 / 2 +
                              session_reservation_bytes(*config, 5, 64);
    auto started = local_swarm::start(system, options);
    ASSERT_TRUE(started.ok()) << started.error().to_string();
    swarm = std::move(*started);
    server = swarm.servers()[0];
    dim = swarm.head_model()->config().dim;
  }

  // The reply, or the error's text in `error`.
  template <class Request, class Reply>
  bool ask(const Request& req, Reply& reply, std::string& error) {
    bool ok = false;
    self->request(server, std::chrono::seconds(10), req)
        .receive(
            [&](Reply& r) {
              reply = std::move(r);
              ok = true;
            },
            [&](caf::error& e) { error = describe(e); });
    return ok;
  }

  std::string open(uint64_t session, int64_t max_tokens) {
    open_session_reply reply;
    std::string error;
    ask(open_session_request{protocol_version, session, 0, 5, max_tokens, 0}, reply, error);
    return error;
  }

  // Runs rows [0, n) of `x` at pos; returns the output or an empty vector (error set).
  std::vector<float> step(uint64_t session, int64_t pos, const std::vector<float>& x,
                          std::string& error) {
    const int64_t n = int64_t(x.size()) / dim;
    step_reply reply;
    if (!ask(step_request{session, next_step++, pos,
                          encode_tensor(tensor_codec::f32, x.data(), n, dim)},
             reply, error)) {
      return {};
    }
    std::vector<float> out;
    EXPECT_TRUE(decode_tensor(reply.hidden, dim, n, out).ok());
    return out;
  }

  std::vector<float> inputs(int64_t n, uint64_t salt) {
    std::mt19937_64 rng(testing::test_seed() + salt);
    return testing::uniform_floats(rng, size_t(n * dim), -1.0f, 1.0f);
  }

  int64_t full_context = 0;
  node_config cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  local_swarm swarm;
  server_actor server;
  int64_t dim = 0;
  uint64_t next_step = 1;
};

TEST_F(ServerTest, SessionOverBudgetIsRefusedWhileOthersGoOn) {
  SCOPED_TRACE("seed " + std::to_string(testing::test_seed()));
  ASSERT_EQ(open(1, 64), "");
  const int64_t too_many = full_context;  // fits once, not twice
  ASSERT_EQ(open(2, too_many), "");
  const std::string refused = open(3, too_many);
  EXPECT_NE(refused.find("over_budget"), std::string::npos) << refused;
  EXPECT_NE(refused.find("MiB free"), std::string::npos) << refused;
  std::string error;
  EXPECT_FALSE(step(1, 0, inputs(4, 1), error).empty()) << error;
  // Closing a session frees its share: the refused one now fits.
  close_session_reply closed;
  ASSERT_TRUE(ask(close_session_request{2}, closed, error)) << error;
  EXPECT_GT(closed.cache_bytes_freed, 0);
  EXPECT_EQ(open(3, too_many), "");
}

TEST_F(ServerTest, StepWithAGapIsRefusedAndChangesNothing) {
  ASSERT_EQ(open(1, 64), "");
  std::string error;
  ASSERT_FALSE(step(1, 0, inputs(3, 1), error).empty()) << error;
  EXPECT_TRUE(step(1, 5, inputs(1, 2), error).empty());
  EXPECT_NE(error.find("position_gap"), std::string::npos) << error;
  EXPECT_NE(error.find("holds 3 tokens"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(step(1, 3, inputs(1, 3), error).empty()) << error;
}

TEST_F(ServerTest, TruncateAndAppendEqualsAFreshSession) {
  SCOPED_TRACE("seed " + std::to_string(testing::test_seed()));
  ASSERT_EQ(open(1, 64), "");
  ASSERT_EQ(open(2, 64), "");
  const auto prefix = inputs(3, 1), first_tail = inputs(4, 2), second_tail = inputs(2, 3);
  std::string error;
  ASSERT_FALSE(step(1, 0, prefix, error).empty()) << error;
  ASSERT_FALSE(step(1, 3, first_tail, error).empty()) << error;
  // Session 1 goes back to position 3 and takes another tail.
  const auto edited = step(1, 3, second_tail, error);
  ASSERT_FALSE(edited.empty()) << error;
  ASSERT_FALSE(step(2, 0, prefix, error).empty()) << error;
  const auto fresh = step(2, 3, second_tail, error);
  EXPECT_EQ(edited, fresh);
}

TEST_F(ServerTest, MalformedRequestsGetErrorsAndTheServerKeepsServing) {
  ASSERT_EQ(open(1, 64), "");
  std::string error;
  const auto x = inputs(2, 1);

  step_reply reply;
  auto wrong_shape = step_request{1, 1, 0, encode_tensor(tensor_codec::f32, x.data(), 1, 2 * dim)};
  EXPECT_FALSE(ask(wrong_shape, reply, error));
  EXPECT_NE(error.find("values per token"), std::string::npos) << error;

  auto bad_codec = step_request{1, 2, 0, encode_tensor(tensor_codec::f32, x.data(), 2, dim)};
  bad_codec.hidden.codec = 9;
  EXPECT_FALSE(ask(bad_codec, reply, error));
  EXPECT_NE(error.find("unknown codec tag 9"), std::string::npos) << error;

  auto short_data = step_request{1, 3, 0, encode_tensor(tensor_codec::f16, x.data(), 2, dim)};
  short_data.hidden.data.resize(short_data.hidden.data.size() - 1);
  EXPECT_FALSE(ask(short_data, reply, error));
  EXPECT_NE(error.find("malformed_message"), std::string::npos) << error;

  auto unknown = step_request{77, 4, 0, encode_tensor(tensor_codec::f32, x.data(), 2, dim)};
  EXPECT_FALSE(ask(unknown, reply, error));
  EXPECT_NE(error.find("unknown_session"), std::string::npos) << error;

  open_session_reply opened;
  EXPECT_FALSE(ask(open_session_request{protocol_version + 1, 5, 0, 5, 16, 0}, opened, error));
  EXPECT_NE(error.find("protocol_mismatch"), std::string::npos) << error;
  EXPECT_FALSE(ask(open_session_request{protocol_version, 6, 0, 9, 16, 0}, opened, error));
  EXPECT_NE(error.find("not inside"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(step(1, 0, x, error).empty()) << error;
}

// Push mode: a step is run once; the same step id again is dropped without a word (a
// duplicate), and a round-trip request with a stale id is refused naming it.
TEST_F(ServerTest, PushedStepsRunOnceAndDuplicatesAreDropped) {
  ASSERT_EQ(open(21, 16), "");
  const std::vector<float> x = inputs(2, 7);
  const push_step p{step_request{21, 5, 0, encode_tensor(tensor_codec::f32, x.data(), 2, dim)},
                    0,
                    0,
                    {},
                    caf::actor_cast<caf::actor>(self)};
  auto receive_output = [&](std::chrono::milliseconds wait, hop_output& out) {
    bool got = false;
    self->receive(
        [&](hop_output& o) {
          out = std::move(o);
          got = true;
        },
        caf::after(wait) >> [] {});
    return got;
  };
  self->send(server, p);
  hop_output out;
  ASSERT_TRUE(receive_output(std::chrono::seconds(10), out));
  EXPECT_EQ(out.error_code, 0) << out.error_text;
  EXPECT_EQ(out.step_id, 5u);
  std::vector<float> pushed;
  ASSERT_TRUE(decode_tensor(out.hidden, dim, 2, pushed).ok());
  ASSERT_EQ(open(22, 16), "");
  std::string error;
  EXPECT_EQ(step(22, 0, x, error), pushed) << error;

  self->send(server, p);
  EXPECT_FALSE(receive_output(std::chrono::milliseconds(300), out));
  step_reply reply;
  EXPECT_FALSE(ask(step_request{21, 5, 2, encode_tensor(tensor_codec::f32, x.data(), 1, dim)},
                   reply, error));
  EXPECT_NE(error.find("comes after step 5: a duplicate or out of order"), std::string::npos)
      << error;

  push_step unknown = p;
  unknown.step.session_id = 99;
  self->send(server, unknown);
  ASSERT_TRUE(receive_output(std::chrono::seconds(10), out));
  EXPECT_EQ(out.error_code, uint8_t(errc::unknown_session));
  EXPECT_NE(out.error_text.find("session 99 is not open"), std::string::npos) << out.error_text;
}

}  // namespace
}  // namespace corolla
