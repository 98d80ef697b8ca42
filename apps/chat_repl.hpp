// chat_repl: the read-eval-print loop of actor-chat, talking to a client actor.
//
// On a terminal: line editing and history (GNU readline), tokens streamed as they
// come, Ctrl-C stops the current answer (not the program), Ctrl-D or /quit leaves.
// Otherwise (scripts, tests): one prompt per line, each answer written to `out`
// followed by a blank line; diagnostics on stderr.
// Commands: /help /reset /stats /route /set NAME VALUE /quit.
#pragma once

#include <istream>
#include <ostream>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "messages/client.hpp"

namespace corolla {

struct repl_options {
  generation_options generation;  // sampling, max_tokens, stop strings: /set changes them
  bool chat = true;               // use the model's chat template when it has one
};

// Runs until end of input or /quit; returns the process exit code (0, or 1 when the
// swarm failed on every prompt of a non-interactive run).
int run_repl(caf::actor_system& system, const caf::actor& client, repl_options options,
             std::istream& in, std::ostream& out);

}  // namespace corolla
