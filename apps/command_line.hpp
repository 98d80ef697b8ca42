// parse_command_line: the one place the corolla subcommands turn their arguments into
// Boost.Program_options values, so that --help and a bad flag behave alike everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "model/kv_cache.hpp"
#include "model/linear.hpp"
#include "model/llama_model.hpp"

namespace corolla {

// Parses `args` against `options` (which must declare "help") into `vm`. Returns the
// exit code the command should end with now — 0 after printing the options to `out` for
// --help, 2 after one line on stderr naming `command` and the bad flag — or nullopt to
// go on with the values in place.
std::optional<int> parse_command_line(const boost::program_options::options_description& options,
                                      const std::vector<std::string>& args,
                                      const std::string& command, std::ostream& out,
                                      boost::program_options::variables_map& vm);

// The kernels' choice every model-running command offers: --weights native|int8 (see
// model/linear.hpp), --f32, and --kv-type auto|f16|f32|q8_0 (model/kv_cache.hpp).
// add_precision_options declares them; precision_from_options and kv_from_options read
// them, or say on stderr, naming `command`, what is wrong.
void add_precision_options(boost::program_options::options_description& options,
                           std::string& weights, std::string* kv = nullptr);

// Speculative decoding's options, for the commands that generate: --draft-tokens N and
// --draft FILE (a small model with the model's vocabulary, run in this process).
void add_speculation_options(boost::program_options::options_description& options,
                             int32_t& draft_tokens, std::string& draft_path);
// The --draft model loaded whole (null when none is given; --draft-tokens then defaults to
// 4 rather than 0). False, said on stderr naming `command`, when it does not load.
bool load_draft_model(const boost::program_options::variables_map& vm,
                      const std::string& draft_path, int32_t& draft_tokens,
                      std::shared_ptr<const llama_model>& out, const std::string& command);
// The cache type asked for: nullopt for auto (model_options::kv's default); false when
// the name is none of the three.
bool kv_from_options(const std::string& kv, const std::string& command,
                     std::optional<kv_type>& out);
std::optional<precision> precision_from_options(const boost::program_options::variables_map& vm,
                                                const std::string& weights,
                                                const std::string& command);

// The most OpenMP threads a program accepts: 4 per core. More only oversubscribe (each
// also gets kernel scratch), and 100000 crash libgomp.
int64_t max_threads();

// Sets the OpenMP team to `threads` (0: every core). False, with one line on stderr
// naming `command` and the bound, when it is outside 0 .. max_threads().
bool use_threads(int64_t threads, const std::string& command);

// "actor-chat 0.1.0 (Corolla, protocol 3)": what --version prints on every program.
std::string version_text(const std::string& program);

// True when `args` ask for the version (--version or -V anywhere).
bool wants_version(const std::vector<std::string>& args);

}  // namespace corolla
