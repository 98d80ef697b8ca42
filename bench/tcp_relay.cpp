#include "bench/tcp_relay.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <optional>
#include <random>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corolla {

namespace {

// As CAF's own sockets: a relay that let Nagle's algorithm hold small writes back for
// the peer's delayed ACK would add up to 40 ms to a step.
void no_delay(int fd) {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

}  // namespace

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  no_delay(fd);
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

int listen_loopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

uint16_t free_loopback_port() {
  uint16_t port = 0;
  const int fd = listen_loopback(port);
  if (fd >= 0) ::close(fd);
  return port;
}

tcp_relay::tcp_relay(uint16_t target_port, bool record)
    : target_port_(target_port), record_(record) {
  listen_fd_ = listen_loopback(port_);
  if (listen_fd_ >= 0) acceptor_ = std::thread([this] { accept_loop(); });
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
    no_delay(client);
    const int target = connect_loopback(target_port_);
    if (target < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const size_t index = recordings_.size();
    recordings_.emplace_back();
    fds_.insert(fds_.end(), {client, target});
    link_shape there = shape_, back = shape_;
    there.seed = shape_.seed + 2 * index;
    back.seed = shape_.seed + 2 * index + 1;
    pumps_.emplace_back(
        [this, client, target, index, there] { pump(client, target, index, true, there); });
    pumps_.emplace_back(
        [this, client, target, index, back] { pump(target, client, index, false, back); });
  }
}

void tcp_relay::set_link(const link_shape& shape) {
  std::lock_guard<std::mutex> lock(mu_);
  shape_ = shape;
}

void tcp_relay::mangle_once(const std::string& needle, int skip) {
  std::lock_guard<std::mutex> lock(mu_);
  needle_ = needle;
  skip_ = skip;
}

namespace {

// Bytes on their way through a shaped link: the reader queues what it read with the time
// it may leave (link_shape); the sender thread sends each chunk when due.
class delay_line {
 public:
  delay_line(int to, const link_shape& shape)
      : to_(to), shape_(shape), rng_(shape.seed), sender_([this] { send_loop(); }) {}
  ~delay_line() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    wake_.notify_all();
    sender_.join();
  }
  // False once the far side stopped taking bytes.
  bool push(const char* data, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    const clock::time_point now = clock::now();
    clock::time_point sent = std::max(now, link_free_);
    if (shape_.mbps > 0) {
      sent += std::chrono::duration_cast<clock::duration>(
          std::chrono::duration<double>(double(n) * 8 / (shape_.mbps * 1e6)));
    }
    link_free_ = sent;
    clock::time_point due = sent + shape_.latency;
    if (shape_.jitter.count() > 0) {
      due += std::chrono::microseconds(int64_t(unit_(rng_) * double(shape_.jitter.count())));
    }
    if (shape_.stall_fraction > 0 && unit_(rng_) < shape_.stall_fraction) due += shape_.stall;
    due = std::max(due, last_due_);
    last_due_ = due;
    queue_.push_back({due, std::string(data, n)});
    wake_.notify_all();
    return !failed_;
  }

 private:
  using clock = std::chrono::steady_clock;
  struct chunk {
    clock::time_point due;
    std::string bytes;
  };

  // Sends everything queued, the rest after the reader closes too.
  void send_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) break;
      const clock::time_point due = queue_.front().due;
      if (clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      std::string bytes = std::move(queue_.front().bytes);
      queue_.pop_front();
      lock.unlock();
      bool ok = true;
      for (size_t sent = 0; ok && sent < bytes.size();) {
        const ssize_t m = ::send(to_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        ok = m > 0;
        if (ok) sent += size_t(m);
      }
      lock.lock();
      if (!ok) failed_ = true;
    }
  }

  const int to_;
  const link_shape shape_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0, 1};
  clock::time_point link_free_{};  // when the last chunk queued is through the bandwidth cap
  clock::time_point last_due_{};
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<chunk> queue_;
  bool closing_ = false;
  bool failed_ = false;
  std::thread sender_;  // last: it starts with the rest made
};

}  // namespace

void tcp_relay::pump(int from, int to, size_t index, bool to_target, link_shape shape) {
  char buf[65536];
  std::optional<delay_line> line;
  if (shape.shaped()) line.emplace(to, shape);
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
    if (line) {
      if (!line->push(buf, size_t(n))) {
        ::shutdown(from, SHUT_RDWR);
        return;
      }
      continue;
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
  line.reset();  // what is on its way still arrives
  ::shutdown(to, SHUT_WR);
}

}  // namespace corolla
