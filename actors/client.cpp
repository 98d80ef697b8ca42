// client: the head of the model and the conversation, on a thread of its own.
//
// Owns: the head (embedding rows, final norm, LM head), the tokenizer, the sampler
// (inside the generator), the conversation of a chat, and one client session.
// Talks to: its program (generate_request in, text_chunk and generate_reply or an
// error out, stop_atom to cut an answer short), its client session (session_step).
//
// The generator (model/generator.hpp) is the same loop `corolla generate` runs; here
// its blocks are the swarm: session_runner turns each forward() into a session_step
// and waits for the result. The client is a blocking actor for that reason, and so
// that the LM head never runs on CAF's scheduler threads: it runs on the client's
// thread, or on the process's compute thread when the client shares one with servers.
// A session error ends the answer with that error; the conversation is left as it
// was before the prompt, so the user can simply ask again.
#include "actors/client.hpp"

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/client_session.hpp"
#include "model/chat_template.hpp"
#include "model/draft_model.hpp"
#include "model/generator.hpp"

namespace corolla {
namespace {

// The swarm as the generator's blocks: one session_step per forward(), waited for.
class session_runner final : public block_runner {
 public:
  session_runner(caf::blocking_actor* self, client_session_actor session, int64_t dim)
      : self_(self), session_(std::move(session)), dim_(dim) {}

  status forward(int64_t pos, int64_t n, float* x) override {
    status result;
    session_step step{pos, n, std::vector<float>(x, x + n * dim_)};
    // No timeout here: the session answers every step, its watchdog (step_timeout) and
    // failover budget bound how long that takes, and a dead session is an error reply.
    self_->request(session_, caf::infinite, std::move(step))
        .receive(
            [&](session_step_result& r) {
              std::copy(r.hidden.begin(), r.hidden.end(), x);
              if (n == 1) record_decode(r.timing);
              for (recovery_report& rr : r.recoveries) recoveries_.push_back(std::move(rr));
              spot_checks_ = r.spot_checks;
            },
            [&](caf::error& e) {
              result = status::io_error("swarm: " + describe(e));
              session_failed_ = true;
            });
    return result;
  }

  // A session that failed a step (its route is gone, or it gave up rerouting) is
  // replaced before the next answer: the swarm may have come back meanwhile.
  bool session_failed() const { return session_failed_; }
  void use_session(client_session_actor session) {
    session_ = std::move(session);
    session_failed_ = false;
  }
  void mark_failed() { session_failed_ = true; }

  void reset_timing() {
    last_.clear();
    sum_.clear();
    decode_steps_ = 0;
    recoveries_.clear();
  }
  const std::vector<recovery_report>& recoveries() const { return recoveries_; }
  const spot_check_totals& spot_checks() const { return spot_checks_; }
  const std::vector<hop_timing>& last_token() const { return last_; }
  std::vector<hop_timing> mean_token() const {
    std::vector<hop_timing> mean = sum_;
    for (hop_timing& h : mean) {
      h.compute_ms /= double(decode_steps_);
      h.transfer_ms /= double(decode_steps_);
      h.inbound_ms /= double(decode_steps_);
    }
    return mean;
  }

 private:
  void record_decode(const std::vector<hop_timing>& timing) {
    last_ = timing;
    if (sum_.size() != timing.size()) {
      sum_ = timing;
      decode_steps_ = 1;
      return;
    }
    for (size_t i = 0; i < timing.size(); ++i) {
      sum_[i].compute_ms += timing[i].compute_ms;
      sum_[i].transfer_ms += timing[i].transfer_ms;
      sum_[i].inbound_ms += timing[i].inbound_ms;
    }
    ++decode_steps_;
  }

  caf::blocking_actor* self_;
  client_session_actor session_;
  bool session_failed_ = false;
  int64_t dim_;
  std::vector<hop_timing> last_;
  std::vector<hop_timing> sum_;
  int64_t decode_steps_ = 0;
  std::vector<recovery_report> recoveries_;
  spot_check_totals spot_checks_;
};

// A draft model's drafts, computed on the process's compute thread when it has one (one
// OpenMP team per process).
class executor_drafts : public draft_source {
 public:
  executor_drafts(std::unique_ptr<draft_model> model, std::shared_ptr<compute_executor> executor)
      : model_(std::move(model)), executor_(std::move(executor)) {}
  result<std::vector<int32_t>> draft(const std::vector<int32_t>& context,
                                     int32_t max_tokens) override {
    if (!executor_) return model_->draft(context, max_tokens);
    result<std::vector<int32_t>> out = status::internal("the draft did not run");
    if (status ran = executor_->run([&] { out = model_->draft(context, max_tokens); }); !ran.ok()) {
      return ran;
    }
    return out;
  }

 private:
  std::unique_ptr<draft_model> model_;
  std::shared_ptr<compute_executor> executor_;
};

struct client_state {
  client_state(caf::blocking_actor* self, const client_config& cfg,
               client_session_actor session_handle, int64_t context_tokens)
      : model(*cfg.head_model),
        session(std::move(session_handle)),
        runner(self, session, model.config().dim),
        gen(model.head(), model.tokenizer(), runner, context_tokens, head_runner(cfg)),
        context(context_tokens) {}

  static logits_runner head_runner(const client_config& cfg) {
    if (!cfg.executor) return nullptr;
    return [executor = cfg.executor, head = cfg.executor->head_for(cfg.head_model)](
               const float* x, float* out) { return executor->logits(head, x, out); };
  }

  const llama_model& model;
  client_session_actor session;
  session_runner runner;
  generator gen;
  int64_t context;
  std::vector<chat_message> conversation;
};

// Runs one answer, streaming text_chunks to `to`; returns the reply or the error.
caf::message answer(caf::blocking_actor* self, client_state& st, const generate_request& req,
                    const caf::actor& to) {
  generation_options opt = req.options;
  const chat_format format = st.model.chat();
  const bool chat = req.tokens.empty() && req.chat && format != chat_format::plain;
  const tokenizer& tok = st.model.tokenizer();
  std::vector<int32_t> tokens = req.tokens;
  int64_t dropped = 0;
  if (chat) {
    st.conversation.push_back({"user", req.prompt});
    for (const std::string& s : chat_stop_strings(format)) opt.stop_strings.push_back(s);
    // A conversation that outgrows the context loses its oldest messages (the system
    // prompt stays), keeping room for an answer of up to half the context.
    const int64_t room = std::min<int64_t>(opt.max_tokens, st.context / 2);
    for (;;) {
      std::vector<chat_message> messages;
      if (!req.system.empty()) messages.push_back({"system", req.system});
      messages.insert(messages.end(), st.conversation.begin(), st.conversation.end());
      tokens = tok.encode(render_chat(format, messages, /*add_generation_prompt=*/true),
                          /*add_bos=*/true, /*parse_special=*/true);
      if (int64_t(tokens.size()) + room < st.context || st.conversation.size() <= 1) break;
      const size_t drop = st.conversation.size() >= 3 ? 2 : 1;  // a user turn and its answer
      st.conversation.erase(st.conversation.begin(), st.conversation.begin() + drop);
      dropped += int64_t(drop);
    }
  } else if (tokens.empty()) {
    tokens = tok.encode(req.prompt, /*add_bos=*/true, /*parse_special=*/true);
  }
  std::string text;
  bool stopped = false;
  st.runner.reset_timing();
  auto stats = st.gen.generate(tokens, opt, [&](const std::string& piece) {
    text += piece;
    self->send(to, text_chunk{piece});
    // A stop_atom already in the mailbox ends the answer; other messages wait.
    self->receive([&](stop_atom) { stopped = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
    return !stopped;
  });
  if (!stats.ok()) {
    if (chat) st.conversation.pop_back();
    st.gen.reset();  // the caches may be anywhere: the next prompt starts over
    return caf::make_message(make_error(errc::compute_failed, stats.error().message()));
  }
  if (chat) st.conversation.push_back({"assistant", text});
  generate_reply reply;
  reply.stats = std::move(*stats);
  reply.last_token = st.runner.last_token();
  reply.mean_token = st.runner.mean_token();
  reply.recoveries = st.runner.recoveries();
  reply.spot_checks = st.runner.spot_checks();
  reply.dropped_messages = dropped;
  return caf::make_message(std::move(reply));
}

// The session's route (opening it first for open_atom), or its error.
template <class Atom>
caf::result<std::vector<hop_timing>> ask_session(caf::blocking_actor* self,
                                                 const client_session_actor& session,
                                                 std::chrono::milliseconds timeout, Atom atom) {
  std::vector<hop_timing> route;
  caf::error err;
  self->request(session, timeout, atom)
      .receive([&](std::vector<hop_timing>& r) { route = std::move(r); },
               [&](caf::error& e) { err = std::move(e); });
  if (err) return err;
  return route;
}

// Swaps the failed session for a fresh one (and id: the old one's servers may still hold
// its caches) and opens it; the error when it can not be opened (it is then retried
// before the next answer).
caf::error replace_session(caf::blocking_actor* self, client_state& st, client_session_config& sc,
                           std::chrono::milliseconds timeout) {
  sc.session_id = random_id();
  sc.seed = sc.session_id;
  client_session_actor fresh = spawn_client_session(self->system(), sc);
  self->link_to(fresh);
  self->unlink_from(st.session);
  caf::anon_send(st.session, close_atom::value);
  st.session = fresh;
  st.runner.use_session(fresh);
  st.gen.reset();
  caf::error opened;
  self->request(fresh, timeout, open_atom::value)
      .receive([](const std::vector<hop_timing>&) {},
               [&](caf::error& e) { opened = std::move(e); });
  if (opened) st.runner.mark_failed();
  return opened;
}

void client_loop(caf::blocking_actor* self, client_config cfg) {
  const llama_config& c = cfg.head_model->config();
  const int64_t context =
      cfg.max_tokens > 0 ? cfg.max_tokens : std::min<int64_t>(c.context_length, 4096);
  if (cfg.session_id == 0) cfg.session_id = random_id();
  client_session_config sc;
  sc.routing_table = cfg.routing_table;
  sc.session_id = cfg.session_id;
  sc.n_blocks = c.n_blocks;
  sc.dim = c.dim;
  sc.max_tokens = context;
  sc.codec = cfg.codec;
  sc.open_timeout = cfg.open_timeout;
  sc.step_timeout = cfg.step_timeout;
  sc.push = cfg.push;
  sc.prefill_chunk = cfg.prefill_chunk;
  sc.checkpoint_every = cfg.checkpoint_every;
  sc.failover = cfg.failover;
  sc.spot_checks = cfg.spot_checks;
  sc.seed = cfg.session_id;
  client_state st(self, cfg, spawn_client_session(self->system(), sc), context);
  // A draft model that can not serve this one fails the open.
  std::unique_ptr<executor_drafts> drafts;
  status draft_error;
  if (cfg.draft_model) {
    auto made = draft_model::make(cfg.draft_model, st.model.tokenizer(), context);
    if (made.ok()) {
      drafts = std::make_unique<executor_drafts>(std::move(*made), cfg.executor);
      st.gen.set_draft_source(drafts.get());
    } else {
      draft_error = made.error();
    }
  }
  // The session dies with the client (its servers then free its caches).
  self->link_to(st.session);
  bool running = true;
  // An open may try the failover budget's worth of routes, each waiting up to open_timeout
  // (for the route and for the servers) and a backoff.
  const auto open_budget =
      (cfg.open_timeout * 2 + cfg.failover.backoff_max) * (cfg.failover.attempts + 1);
  self->receive_while([&] { return running; })(
      [&](open_atom) -> caf::result<std::vector<hop_timing>> {
        if (!draft_error.ok()) return to_error(draft_error);
        return ask_session(self, st.session, open_budget, open_atom{});
      },
      [&](generate_request& req) {
        const auto to = caf::actor_cast<caf::actor>(self->current_sender());
        if (st.runner.session_failed()) {
          if (caf::error e = replace_session(self, st, sc, open_budget)) {
            self->send(to, make_error(errc::no_route, "the swarm is not back yet: " + describe(e)));
            return;
          }
        }
        self->send(to, answer(self, st, req, to));
      },
      [&](reset_atom) {
        st.gen.reset();
        st.conversation.clear();
      },
      [&](route_atom) { return ask_session(self, st.session, cfg.open_timeout, route_atom{}); },
      [&](stop_atom) {},  // no answer running: nothing to stop
      [&](close_atom) { running = false; }, [&](caf::exit_msg&) { running = false; });
  caf::anon_send(st.session, close_atom::value);
}

}  // namespace

result<caf::actor> start_client(caf::actor_system& system, client_config cfg) {
  const auto timeout = cfg.open_timeout * 3;
  caf::actor client = system.spawn(client_loop, std::move(cfg));
  caf::scoped_actor self{system};
  status opened;
  self->request(client, timeout, open_atom::value)
      .receive([](const std::vector<hop_timing>&) {},
               [&](caf::error& e) { opened = status::io_error(describe(e)); });
  if (!opened.ok()) {
    stop_client(client);
    return opened;
  }
  return client;
}

void stop_client(const caf::actor& client) {
  caf::anon_send(client, close_atom::value);
}

}  // namespace corolla
