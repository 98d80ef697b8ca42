#include "apps/chat_repl.hpp"

#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/caf_types.hpp"

namespace corolla {
namespace {

volatile std::sig_atomic_t interrupted = 0;
volatile std::sig_atomic_t at_prompt = 0;

// At the prompt Ctrl-C clears the line (readline's own signal handling is off, so this
// is the handler; readline is not async-signal-safe, but it is waiting for input here,
// as every readline program that clears the line this way assumes). During an answer it
// only sets the flag the answer loop checks after every piece of text.
void on_sigint(int) {
  interrupted = 1;
  if (at_prompt) {
    static const char newline = '\n';
    (void)!write(STDOUT_FILENO, &newline, 1);
    rl_replace_line("", 0);
    rl_on_new_line();
    rl_redisplay();
  }
}

const char* help_text =
    "commands:\n"
    "  /help                 this text\n"
    "  /reset                forget the conversation\n"
    "  /stats                the last answer: tokens/s, and per token the compute and\n"
    "                        transfer time of every server\n"
    "  /route                the servers and blocks the session uses\n"
    "  /set NAME VALUE       temperature, top_k, top_p, min_p, repeat_penalty, max_tokens, seed\n"
    "  /set                  the settings now\n"
    "  /system [TEXT]        the system prompt (none: show it; '-' clears it)\n"
    "  /quit                 leave (also Ctrl-D)\n"
    "A line ending in \\ continues on the next; \"\"\" opens and closes a block of lines.\n"
    "Ctrl-C stops an answer; at the prompt it clears the line.\n";

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
// 0.31 ms rerouting + 2.02 ms replay" (or "64 tokens' caches handed over, ... hand-over";
// with checkpoints, "224 tokens from its checkpoint, 1 tokens replayed, ...")
void print_recoveries(std::ostream& out, const generate_reply& r) {
  for (const recovery_report& rr : r.recoveries) {
    std::string by;
    for (const std::string& name : rr.replaced_by) by += (by.empty() ? "" : ", ") + name;
    const bool handed = rr.handed_over_tokens > 0;
    out << "recovered: " << rr.cause << "; now " << by << ", ";
    if (rr.checkpoint_tokens > 0) out << rr.checkpoint_tokens << " tokens from its checkpoint, ";
    out << (handed ? rr.handed_over_tokens : rr.replayed_tokens)
        << (handed ? " tokens' caches handed over, " : " tokens replayed, ")
        << format_ms(rr.reroute_ms) << " ms rerouting + " << format_ms(rr.replay_ms)
        << (handed ? " ms hand-over\n" : " ms replay\n");
  }
}

void print_stats(std::ostream& out, const generate_reply& r) {
  const generation_stats& s = r.stats;
  const double decode_steps = double(std::max<int64_t>(s.generated_tokens() - 1, 1));
  out << "prompt: " << s.prompt_tokens << " tokens in " << format_ms(s.prompt_ms) << " ms\n"
      << "answer: " << s.generated_tokens() << " tokens, "
      << format_ms(s.decode_tokens_per_second()) << " tokens/s, stop: " << to_string(s.reason)
      << "\n";
  if (s.drafted > 0) {
    out << "speculation: " << s.accepted << " of " << s.drafted << " drafted tokens accepted ("
        << format_ms(100.0 * double(s.accepted) / double(s.drafted)) << "%), " << s.decode_steps
        << " decode steps\n";
  }
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
  if (name == "seed") o.seed_given = true;
  if (o.generation.max_tokens < 1) return "max_tokens must be >= 1";
  if (status valid = o.generation.sampling.validate(); !valid.ok()) return valid.message();
  return "";
}

std::string settings_text(const repl_options& o) {
  const sampling_params& s = o.generation.sampling;
  std::ostringstream text;
  text << "temperature " << s.temperature << ", top_k " << s.top_k << ", top_p " << s.top_p
       << ", min_p " << s.min_p << ", repeat_penalty " << s.repeat_penalty << ", max_tokens "
       << o.generation.max_tokens << ", seed "
       << (o.seed_given ? std::to_string(s.seed) : "random per prompt") << "\n"
       << "system prompt: " << (o.system.empty() ? "(none)" : o.system) << "\n";
  return text.str();
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
      if (name.empty()) {
        std::cerr << settings_text(options_);
        return true;
      }
      repl_options changed = options_;
      const std::string err = value.empty() ? "give a value: /set " + name + " VALUE"
                                            : set_option(changed, name, value);
      if (err.empty()) options_ = changed;
      std::cerr << (err.empty() ? name + " = " + value : "/set: " + err) << "\n";
    } else if (cmd == "/system") {
      std::string rest = text.size() > cmd.size() ? text.substr(cmd.size() + 1) : "";
      if (rest.empty()) {
        std::cerr << "system prompt: " << (options_.system.empty() ? "(none)" : options_.system)
                  << "\n";
      } else {
        options_.system = rest == "-" ? "" : rest;
        std::cerr << (options_.system.empty() ? "system prompt cleared" : "system prompt set")
                  << "\n";
      }
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
    req.system = options_.system;
    if (!options_.seed_given) req.options.sampling.seed = seeds_();
    interrupted = 0;
    self_->send(client_, req);
    bool done = false;
    bool answered = false;
    bool stop_sent = false;
    self_->receive_while([&] { return !done; })(
        [&](const text_chunk& c) {
          out_ << c.text << std::flush;
          if (interrupted && !stop_sent) {
            self_->send(client_, stop_atom::value);
            stop_sent = true;
          }
        },
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
      if (last_.dropped_messages > 0) {
        std::cerr << "(the conversation outgrew the context: its " << last_.dropped_messages
                  << " oldest messages were dropped; /reset starts afresh)\n";
      }
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
  std::mt19937_64 seeds_{std::random_device{}()};
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
  const std::string history = options.history_file;
  repl r(system, client, std::move(options), out, interactive);
  if (interactive) {
    std::cerr << "Type a prompt, /help for commands, Ctrl-D to leave.\n";
    rl_catch_signals = 0;
    if (!history.empty()) {
      std::error_code ignored;
      std::filesystem::create_directories(std::filesystem::path(history).parent_path(), ignored);
      read_history(history.c_str());
    }
    stifle_history(1000);
    std::string text;
    bool block = false;  // inside """ ... """
    for (;;) {
      at_prompt = 1;
      char* raw = readline(text.empty() ? "> " : ". ");
      at_prompt = 0;
      if (raw == nullptr) break;
      std::string line(raw);
      std::free(raw);
      if (interrupted && !block && text.empty()) interrupted = 0;
      if (line == "\"\"\"" || (!block && text.empty() && line.rfind("\"\"\"", 0) == 0)) {
        if (block) {
          block = false;
        } else {
          block = true;
          text = line.substr(3);
          continue;
        }
      } else if (block) {
        text += (text.empty() ? "" : "\n") + line;
        continue;
      } else if (!line.empty() && line.back() == '\\') {
        line.pop_back();
        text += line + "\n";
        continue;
      } else {
        text += line;
      }
      if (!text.empty()) add_history(text.c_str());
      const bool go_on = r.line(text);
      text.clear();
      if (!go_on) break;
    }
    if (!history.empty()) write_history(history.c_str());
    return 0;
  }
  std::string text;
  while (std::getline(in, text)) {
    if (!r.line(text)) break;
  }
  return r.failures() > 0 && r.answers() == 0 ? 1 : 0;
}

}  // namespace corolla
