#include "apps/chat_repl.hpp"

#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {
namespace {

volatile std::sig_atomic_t interrupted = 0;

void on_sigint(int) {
  interrupted = 1;
}

const char* help_text =
    "commands:\n"
    "  /help                 this text\n"
    "  /reset                forget the conversation\n"
    "  /stats                the last answer: tokens/s, and per token the compute and\n"
    "                        transfer time of every server\n"
    "  /route                the servers and blocks the session uses\n"
    "  /set NAME VALUE       temperature, top_k, top_p, min_p, repeat_penalty, max_tokens, seed\n"
    "  /quit                 leave (also Ctrl-D)\n"
    "Ctrl-C stops an answer.\n";

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ms);
  return buf;
}

// "[24 tokens, 821.35 tokens/s, stop: max tokens]"
std::string summary(const generation_stats& s) {
  return "[" + std::to_string(s.generated_tokens()) + " tokens, " +
         format_ms(s.decode_tokens_per_second()) + " tokens/s, stop: " + to_string(s.reason) + "]";
}

// "recovered: server b0 (blocks [2, 4)) is gone: ...; now b1, 64 tokens replayed,
// 0.31 ms rerouting + 2.02 ms replay"
void print_recoveries(std::ostream& out, const generate_reply& r) {
  for (const recovery_report& rr : r.recoveries) {
    std::string by;
    for (const std::string& name : rr.replaced_by) by += (by.empty() ? "" : ", ") + name;
    out << "recovered: " << rr.cause << "; now " << by << ", " << rr.replayed_tokens
        << " tokens replayed, " << format_ms(rr.reroute_ms) << " ms rerouting + "
        << format_ms(rr.replay_ms) << " ms replay\n";
  }
}

void print_stats(std::ostream& out, const generate_reply& r) {
  const generation_stats& s = r.stats;
  const double decode_steps = double(std::max<int64_t>(s.generated_tokens() - 1, 1));
  out << "prompt: " << s.prompt_tokens << " tokens in " << format_ms(s.prompt_ms) << " ms\n"
      << "answer: " << s.generated_tokens() << " tokens, "
      << format_ms(s.decode_tokens_per_second()) << " tokens/s, stop: " << to_string(s.reason)
      << "\n";
  if (r.mean_token.empty()) return;
  double compute = 0, transfer = 0;
  out << "per token (mean of the decode steps):\n";
  for (const hop_timing& h : r.mean_token) {
    out << "  " << h.server_name << " blocks [" << h.start_block << ", " << h.end_block
        << "): compute " << format_ms(h.compute_ms) << " ms, transfer " << format_ms(h.transfer_ms)
        << " ms\n";
    compute += h.compute_ms;
    transfer += h.transfer_ms;
  }
  out << "  total: compute " << format_ms(compute) << " ms, transfer " << format_ms(transfer)
      << " ms; head and sampling " << format_ms(s.generate_ms / decode_steps - compute - transfer)
      << " ms\n";
}

// Applies "/set NAME VALUE"; returns an error text, empty on success.
std::string set_option(repl_options& o, const std::string& name, const std::string& value) {
  try {
    size_t used = 0;
    if (name == "temperature")
      o.generation.sampling.temperature = std::stof(value, &used);
    else if (name == "top_k")
      o.generation.sampling.top_k = std::stoi(value, &used);
    else if (name == "top_p")
      o.generation.sampling.top_p = std::stof(value, &used);
    else if (name == "min_p")
      o.generation.sampling.min_p = std::stof(value, &used);
    else if (name == "repeat_penalty")
      o.generation.sampling.repeat_penalty = std::stof(value, &used);
    else if (name == "max_tokens")
      o.generation.max_tokens = std::stoi(value, &used);
    else if (name == "seed")
      o.generation.sampling.seed = std::stoull(value, &used);
    else
      return "unknown setting '" + name + "' (see /help)";
    if (used != value.size()) return "'" + value + "' is not a number";
  } catch (const std::exception&) {
    return "'" + value + "' is not a number";
  }
  return "";
}

class repl {
 public:
  repl(caf::actor_system& system, caf::actor client, repl_options options, std::ostream& out,
       bool interactive)
      : self_(system),
        client_(std::move(client)),
        options_(std::move(options)),
        out_(out),
        interactive_(interactive) {}

  // Returns false to leave.
  bool line(const std::string& text) {
    if (text.empty()) return true;
    if (text[0] == '/') return command(text);
    prompt(text);
    return true;
  }

  int failures() const { return failures_; }
  int answers() const { return answers_; }

 private:
  bool command(const std::string& text) {
    std::istringstream words(text);
    std::string cmd, name, value;
    words >> cmd >> name >> value;
    if (cmd == "/quit" || cmd == "/exit") return false;
    if (cmd == "/help") {
      std::cerr << help_text;
    } else if (cmd == "/reset") {
      self_->send(client_, reset_atom::value);
      std::cerr << "conversation cleared\n";
    } else if (cmd == "/stats") {
      if (answers_ == 0)
        std::cerr << "no answer yet\n";
      else
        print_stats(std::cerr, last_);
    } else if (cmd == "/route") {
      self_->request(client_, std::chrono::seconds(10), route_atom::value)
          .receive(
              [&](const std::vector<hop_timing>& route) {
                for (const hop_timing& h : route) {
                  std::cerr << h.server_name << ": blocks [" << h.start_block << ", " << h.end_block
                            << ")\n";
                }
              },
              [&](const caf::error& e) { std::cerr << "route: " << describe(e) << "\n"; });
    } else if (cmd == "/set") {
      const std::string err = set_option(options_, name, value);
      std::cerr << (err.empty() ? name + " = " + value : "/set: " + err) << "\n";
    } else {
      std::cerr << "unknown command " << cmd << " (see /help)\n";
    }
    return true;
  }

  void prompt(const std::string& text) {
    generate_request req;
    req.prompt = text;
    req.chat = options_.chat;
    req.options = options_.generation;
    interrupted = 0;
    self_->send(client_, req);
    bool done = false;
    bool answered = false;
    bool stop_sent = false;
    self_->receive_while([&] { return !done; })(
        [&](const text_chunk& c) { out_ << c.text << std::flush; },
        [&](generate_reply& r) {
          last_ = std::move(r);
          ++answers_;
          answered = true;
          done = true;
        },
        [&](const caf::error& e) {
          out_ << std::flush;
          std::cerr << "\nerror: " << describe(e) << "\n";
          ++failures_;
          done = true;
        },
        caf::after(std::chrono::milliseconds(50)) >>
            [&] {
              if (interrupted && !stop_sent) {
                self_->send(client_, stop_atom::value);
                stop_sent = true;
              }
            });
    out_ << (interactive_ ? "\n" : "\n\n") << std::flush;
    if (answered) {
      print_recoveries(std::cerr, last_);
      std::cerr << summary(last_.stats) << "\n";
    }
  }

  caf::scoped_actor self_;
  caf::actor client_;
  repl_options options_;
  std::ostream& out_;
  bool interactive_;
  generate_reply last_;
  int answers_ = 0;
  int failures_ = 0;
};

}  // namespace

int run_repl(caf::actor_system& system, const caf::actor& client, repl_options options,
             std::istream& in, std::ostream& out) {
  const bool interactive = &in == &std::cin && isatty(STDIN_FILENO);
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  repl r(system, client, std::move(options), out, interactive);
  if (interactive) {
    std::cerr << "Type a prompt, /help for commands, Ctrl-D to leave.\n";
    while (char* raw = readline("> ")) {
      std::string text(raw);
      std::free(raw);
      if (!text.empty()) add_history(text.c_str());
      if (!r.line(text)) break;
    }
    return 0;
  }
  std::string text;
  while (std::getline(in, text)) {
    if (!r.line(text)) break;
  }
  return r.failures() > 0 && r.answers() == 0 ? 1 : 0;
}

}  // namespace corolla
