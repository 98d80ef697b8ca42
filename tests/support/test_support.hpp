// Helpers shared by the test suites: where ../shared and the build tree are,
// temporary files, and the seed every randomised test takes.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "model/gguf_writer.hpp"
#include "model/llama_model.hpp"

namespace corolla::testing {

// Path of a file under ../shared (e.g. "models/stories260K.gguf").
std::string shared_path(const std::string& relative);
// True when ../shared/<relative> exists; tests GTEST_SKIP() with a message otherwise.
bool shared_exists(const std::string& relative);

// A fresh temporary directory for this test process, removed at exit.
std::string temp_dir();
std::string temp_path(const std::string& name);

// COROLLA_SEED from the environment, or `fallback`. Tests print it with SCOPED_TRACE.
uint64_t test_seed(uint64_t fallback = 20261122);

// n values uniform in [lo, hi) from mt19937_64's specified sequence (24-bit mantissas),
// the same on every standard library, unlike std::uniform_real_distribution.
std::vector<float> uniform_floats(std::mt19937_64& rng, size_t n, float lo, float hi);

std::string read_file(const std::string& path);

// Runs `command` with /bin/sh; its exit code (-1 when it did not exit) and its stdout.
struct command_result {
  int exit_code;
  std::string output;
};
command_result run_command(const std::string& command);
// The path of a program this build made under apps/ ("corolla", "actor-chat").
std::string app_path(const std::string& name);
void write_file(const std::string& path, const std::string& bytes);

// A copy of the GGUF at `source` as temp_path(name), its metadata changed by `edit`
// first (which may set and erase keys, and add tensors); the tensors copied byte for byte.
std::string rewrite_gguf(const std::string& source, const std::string& name,
                         const std::function<void(gguf_writer&)>& edit);

// The model at `path` loaded whole in `kind` (a failure is a test failure).
llama_model load_model(const std::string& path, precision kind);

// A parameter such as "rand-qwen2" as a gtest name ("rand_qwen2").
std::string param_name(std::string param);

}  // namespace corolla::testing
