#include "bench/tcp_relay.hpp"

#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corolla {

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

tcp_relay::tcp_relay(uint16_t target_port, bool record)
    : target_port_(target_port), record_(record) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

tcp_relay::~tcp_relay() {
  stop();
}

void tcp_relay::stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : pumps_) t.join();
  for (int fd : fds_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::vector<tcp_relay::recording> tcp_relay::recorded() {
  std::lock_guard<std::mutex> lock(mu_);
  return recordings_;
}

void tcp_relay::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    const int target = connect_loopback(target_port_);
    if (target < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const size_t index = recordings_.size();
    recordings_.emplace_back();
    fds_.insert(fds_.end(), {client, target});
    pumps_.emplace_back([this, client, target, index] { pump(client, target, index, true); });
    pumps_.emplace_back([this, client, target, index] { pump(target, client, index, false); });
  }
}

void tcp_relay::mangle_once(const std::string& needle, int skip) {
  std::lock_guard<std::mutex> lock(mu_);
  needle_ = needle;
  skip_ = skip;
}

void tcp_relay::pump(int from, int to, size_t index, bool to_target) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(from, buf, sizeof buf, 0);
    if (n <= 0) break;
    if (to_target && !needle_.empty() && !mangled_) {
      std::lock_guard<std::mutex> lock(mu_);
      const std::string_view chunk(buf, size_t(n));
      for (size_t at = chunk.find(needle_); at != std::string_view::npos && !mangled_;
           at = chunk.find(needle_, at + 1)) {
        if (skip_-- > 0) continue;
        buf[at + needle_.size() - 1] ^= 0x20;
        mangled_ = true;
      }
    }
    if (record_) {
      std::lock_guard<std::mutex> lock(mu_);
      auto& r = recordings_[index];
      (to_target ? r.to_target : r.from_target).append(buf, size_t(n));
    }
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t m = ::send(to, buf + sent, size_t(n - sent), MSG_NOSIGNAL);
      if (m <= 0) {
        ::shutdown(from, SHUT_RDWR);
        return;
      }
      sent += m;
    }
  }
  ::shutdown(to, SHUT_WR);
}

}  // namespace corolla
