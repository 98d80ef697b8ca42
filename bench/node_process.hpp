// node_process: an actor-node process that a cluster test or `corolla bench swarm`
// starts, talks to and stops — its output (stdout and stderr together) collected as it
// is printed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace corolla {

// The path of program `name` in this program's directory (actor-node beside corolla).
std::string program_beside_this_one(const std::string& name);

class node_process {
 public:
  // Starts the actor-node program at `binary` with `args`, and `env` ("NAME=value")
  // added to this process's environment.
  node_process(const std::string& binary, const std::vector<std::string>& args,
               const std::vector<std::string>& env = {});
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;
  ~node_process();  // kills the process if it still runs

  // Waits until the output contains `text`; false when the process exits or the time
  // runs out first.
  bool wait_for(const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits for the process to end; its exit code, or -1 when it did not end in time.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void signal(int number);
  // Reads what it printed so far (a node that logs must not block on a full pipe) and
  // says whether it still runs.
  bool running();

  // The port from the "listening on host:port" line (0 before it is printed).
  uint16_t port();
  std::string address() { return "127.0.0.1:" + std::to_string(port()); }
  const std::string& output();
  pid_t pid() const { return pid_; }

 private:
  void read_available(std::chrono::milliseconds wait);
  void reap();  // notes the exit if the process has ended
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
  std::string output_;
};

}  // namespace corolla
