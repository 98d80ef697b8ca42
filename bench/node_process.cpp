#include "bench/node_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace corolla {

std::string program_beside_this_one(const std::string& name) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / name).string();
}

node_process::node_process(const std::string& binary, const std::vector<std::string>& args,
                           const std::vector<std::string>& env) {
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
}

node_process::~node_process() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

void node_process::read_available(std::chrono::milliseconds wait) {
  if (out_fd_ < 0) return;
  pollfd p{out_fd_, POLLIN, 0};
  if (poll(&p, 1, int(wait.count())) <= 0) return;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(out_fd_, buffer, sizeof buffer);
    if (n <= 0) break;
    output_.append(buffer, size_t(n));
  }
}

bool node_process::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (output_.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    read_available(std::chrono::milliseconds(10));
    if (!exited_) {
      reap();
      if (exited_) {
        read_available(std::chrono::milliseconds(0));
        return output_.find(text) != std::string::npos;
      }
    }
    if (exited_) return false;
  }
  return true;
}

void node_process::reap() {
  int st = 0;
  if (!exited_ && pid_ > 0 && waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
}

bool node_process::running() {
  read_available(std::chrono::milliseconds(0));
  reap();
  return pid_ > 0 && !exited_;
}

int node_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_ && pid_ > 0) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    read_available(std::chrono::milliseconds(10));
  }
  read_available(std::chrono::milliseconds(0));
  return exit_code_;
}

void node_process::signal(int number) {
  if (pid_ > 0 && !exited_) kill(pid_, number);
}

uint16_t node_process::port() {
  wait_for("listening on ");
  const auto at = output_.find("listening on ");
  if (at == std::string::npos) return 0;
  const auto colon = output_.find(':', at + 13);
  return colon == std::string::npos ? 0 : uint16_t(std::stoul(output_.substr(colon + 1)));
}

const std::string& node_process::output() {
  read_available(std::chrono::milliseconds(0));
  return output_;
}

}  // namespace corolla
