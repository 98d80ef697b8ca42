// chat_repl: the read-eval-print loop of actor-chat, talking to a client actor.
//
// On a terminal: line editing and history kept across runs (GNU readline), tokens
// streamed as they come, Ctrl-C stops the current answer at once (not the program) and
// clears the line at the prompt, Ctrl-D or /quit leaves. A line ending in \ continues on
// the next; """ opens and closes a block of lines.
// Otherwise (scripts, tests): one prompt per line, each answer written to `out`
// followed by a blank line; diagnostics on stderr.
// Commands: /help /reset /stats /route /set [NAME VALUE] /system [TEXT] /quit.
// Each prompt samples with a fresh random seed unless --seed or /set seed fixed one.
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "messages/client.hpp"

namespace corolla {

struct repl_options {
  generation_options generation;  // sampling, max_tokens, stop strings: /set changes them
  bool chat = true;               // use the model's chat template when it has one
  bool seed_given = false;        // false: a fresh random seed for every prompt
  std::string system;             // the system prompt (chat); /system changes it
  std::string history_file;       // "": no history kept across runs
};

// Runs until end of input or /quit; returns the process exit code (0, or 1 when the
// swarm failed on every prompt of a non-interactive run).
int run_repl(caf::actor_system& system, const caf::actor& client, repl_options options,
             std::istream& in, std::ostream& out);

}  // namespace corolla
