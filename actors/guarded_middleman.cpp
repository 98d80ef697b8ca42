#include "actors/guarded_middleman.hpp"

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include <openssl/rand.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/socket_guard.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/interfaces.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/openssl/session.hpp>
#include <caf/policy/tcp.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/uniform_type_info_map.hpp>

namespace corolla {

using caf::io::network::native_socket;
using caf::io::network::rw_state;
using clock_type = std::chrono::steady_clock;

namespace {

std::string peer_name(native_socket fd) {
  auto addr = caf::io::network::remote_addr_of_fd(fd);
  auto port = caf::io::network::remote_port_of_fd(fd);
  return (addr ? *addr : std::string("?")) + ":" + (port ? std::to_string(*port) : "?");
}

}  // namespace

// What all connections of one actor system share: the settings, admission under a
// mutex, the sweeper that closes connections past their handshake deadline.
class guard_state {
 public:
  explicit guard_state(guard_settings settings)
      : settings_(std::move(settings)), admission_(settings_.admission) {}

  ~guard_state() { stop(); }

  const guard_settings& settings() const { return settings_; }
  guard_counters& counters() { return counters_; }
  // Set at the module's start, before any connection: this process's node id.
  std::optional<node_identity> self;
  caf::actor_system* system = nullptr;

  // Whether CAF's registry can make a value of type `name`; known names are remembered
  // (unknown ones are not: a peer could send endless new ones).
  bool known_type(const std::string& name) {
    {
      std::lock_guard<std::mutex> lock(types_mu_);
      if (known_types_.count(name)) return true;
    }
    if (!system || !system->types().make_value(name)) return false;
    std::lock_guard<std::mutex> lock(types_mu_);
    known_types_.insert(name);
    return true;
  }

  status admit_inbound(native_socket fd, const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    status s = admission_.admit_inbound(fd, address, clock_type::now());
    if (!s.ok()) ++counters_.refused_connections;
    return s;
  }
  void admit_outbound(native_socket fd) {
    std::lock_guard<std::mutex> lock(mu_);
    admission_.admit_outbound(fd, clock_type::now());
  }
  void established(native_socket fd) {
    std::lock_guard<std::mutex> lock(mu_);
    admission_.established(fd, clock_type::now());
  }
  void heard(native_socket fd, clock_type::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    admission_.heard(fd, now);
  }
  // Called before the socket is closed, so the sweeper never shuts a reused fd down.
  void closed(native_socket fd) {
    std::lock_guard<std::mutex> lock(mu_);
    admission_.closed(fd);
  }

  // Queues a line for the sweeper thread to print: the multiplexer thread that calls
  // this must never block on a stderr pipe nobody reads.
  void log(const std::string& line) {
    const auto now = clock_type::now();
    std::lock_guard<std::mutex> lock(log_mu_);
    if (now - log_window_ > std::chrono::seconds(1)) {
      if (log_dropped_ > 0) {
        log_queue_.push_back(std::to_string(log_dropped_) + " more lines dropped");
      }
      log_window_ = now;
      log_lines_ = 0;
      log_dropped_ = 0;
    }
    if (log_lines_++ < 10) {
      log_queue_.push_back(line);
    } else {
      ++log_dropped_;
    }
  }

  void start() {
    sweeper_ = std::thread([this] { sweep(); });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
    print_logged();
  }

  caf::io::middleman_actor actor;

 private:
  // shutdown() wakes the multiplexer with an error on the socket; CAF then closes it on
  // its own thread as after any failed connection.
  void sweep() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      lock.unlock();
      print_logged();
      lock.lock();
      for (const auto& e : admission_.expired(clock_type::now())) {
        const std::string peer = peer_name(native_socket(e.id));
        ::shutdown(native_socket(e.id), SHUT_RDWR);
        admission_.closed(e.id);
        lock.unlock();
        if (e.silent) {
          log("closed " + peer + ": silent for " +
              std::to_string(settings_.admission.silence_timeout.count()) + " ms");
        } else {
          ++counters_.failed_connections;
          log("closed " + peer + ": its handshakes did not finish within " +
              std::to_string(settings_.admission.handshake_timeout.count()) + " ms");
        }
        lock.lock();
      }
    }
  }

  void print_logged() {
    std::vector<std::string> lines;
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      lines.swap(log_queue_);
    }
    for (const std::string& l : lines) std::fprintf(stderr, "guard: %s\n", l.c_str());
  }

  const guard_settings settings_;
  guard_counters counters_;
  std::mutex mu_;
  std::mutex types_mu_;
  std::unordered_set<std::string> known_types_;
  connection_admission admission_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread sweeper_;
  std::mutex log_mu_;
  clock_type::time_point log_window_{};
  size_t log_lines_ = 0;
  size_t log_dropped_ = 0;
  std::vector<std::string> log_queue_;  // at most 11 lines a second
};

namespace {

std::mutex registry_mu;
std::map<const caf::actor_system*, std::shared_ptr<guard_state>>& registry() {
  static std::map<const caf::actor_system*, std::shared_ptr<guard_state>> states;
  return states;
}

std::shared_ptr<guard_state> state_of(const caf::actor_system& system) {
  std::lock_guard<std::mutex> lock(registry_mu);
  auto it = registry().find(&system);
  return it == registry().end() ? nullptr : it->second;
}

std::array<uint8_t, 32> new_nonce() {
  std::array<uint8_t, 32> nonce{};
  if (RAND_bytes(nonce.data(), int(nonce.size())) != 1) {
    std::random_device rd;
    for (auto& b : nonce) b = uint8_t(rd());
  }
  return nonce;
}

// The stream policy: every read goes through the connection's wire_guard.
class guard_policy {
 public:
  guard_policy(std::shared_ptr<guard_state> state, native_socket fd, guard_role role,
               caf::openssl::session_ptr tls)
      : state_(std::move(state)),
        fd_(fd),
        tls_(std::move(tls)),
        guard_(role, state_->settings().limits,
               state_->settings().key ? &*state_->settings().key : nullptr, new_nonce()) {
    if (state_->self) guard_.set_local_node(*state_->self);
    guard_.set_type_check(
        [state = state_.get()](const std::string& name) { return state->known_type(name); });
    queue(guard_out_, guard_.take_output());
  }

  ~guard_policy() { state_->closed(fd_); }

  guard_policy(const guard_policy&) = delete;
  guard_policy& operator=(const guard_policy&) = delete;

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len) {
    result = 0;
    if (failed_) return rw_state::failure;
    if (!flush(fd)) return rw_state::failure;
    for (;;) {
      if (guard_.ready() > 0) {
        const size_t n = std::min(len, guard_.ready());
        std::memcpy(buf, guard_.ready_data(), n);
        guard_.consume(n);
        result = n;
        return rw_state::success;
      }
      const size_t want = std::min(guard_.wanted(), chunk_bytes);
      size_t got = 0;
      const rw_state r = transport_read(got, fd, guard_.space(want), want);
      if (r == rw_state::failure) {
        guard_.commit(0);
        return rw_state::failure;
      }
      status s = guard_.commit(got);
      if (!s.ok()) return refuse(s);
      if (got > 0) heard();
      if (!established_ && guard_.established()) {
        established_ = true;
        state_->established(fd_);
      }
      queue(guard_out_, guard_.take_output());
      if (!flush(fd)) return rw_state::failure;
      if (got == 0 && guard_.ready() == 0) return r;
    }
  }

  rw_state write_some(size_t& result, native_socket fd, const void* buf, size_t len) {
    result = 0;
    if (failed_) return rw_state::failure;
    if (!guard_.authenticated() || !guard_out_.empty() || !held_.empty()) {
      if (held_.size() + len > held_limit) return refuse(status::out_of_range("handshake stalled"));
      auto p = static_cast<const uint8_t*>(buf);
      held_.insert(held_.end(), p, p + len);
      result = len;
      if (!flush(fd)) return rw_state::failure;
      return len == 0 ? rw_state::indeterminate : rw_state::success;
    }
    return transport_write(result, fd, buf, len);
  }

  bool try_accept(native_socket& result, native_socket fd) {
    return caf::policy::tcp::try_accept(result, fd);
  }

  bool must_read_more(native_socket fd, size_t threshold) {
    return guard_.ready() > 0 || (tls_ && tls_->must_read_more(fd, threshold));
  }

 private:
  static constexpr size_t chunk_bytes = size_t(1) << 20;
  static constexpr auto heard_every = std::chrono::milliseconds(10);
  // BASP bytes CAF wrote before the handshakes finished: the server handshake and little
  // else, since the peer answers nothing before it.
  static constexpr size_t held_limit = size_t(1) << 20;

  static void queue(std::vector<uint8_t>& q, const std::vector<uint8_t>& bytes) {
    q.insert(q.end(), bytes.begin(), bytes.end());
  }

  rw_state transport_read(size_t& got, native_socket fd, void* buf, size_t len) {
    if (tls_) return tls_->read_some(got, fd, buf, len);
    return caf::policy::tcp::read_some(got, fd, buf, len);
  }
  rw_state transport_write(size_t& put, native_socket fd, const void* buf, size_t len) {
    if (tls_) return tls_->write_some(put, fd, buf, len);
    return caf::policy::tcp::write_some(put, fd, buf, len);
  }

  // Sends the guard's own bytes, then (once authenticated) the held BASP bytes. What the
  // socket does not take now goes with the next call; false on a failed socket.
  bool flush(native_socket fd) {
    for (auto* q : {&guard_out_, &held_}) {
      if (q == &held_ && (!guard_.authenticated() || !guard_out_.empty())) break;
      while (!q->empty()) {
        size_t put = 0;
        if (transport_write(put, fd, q->data(), q->size()) == rw_state::failure) {
          failed_ = true;
          return false;
        }
        if (put == 0) return true;
        q->erase(q->begin(), q->begin() + std::ptrdiff_t(put));
      }
    }
    return true;
  }

  // Tells the sweeper the peer is alive, at most every heard_every (a read can be a
  // few bytes; the admission's mutex is the whole process's).
  void heard() {
    const auto now = clock_type::now();
    if (now - last_heard_ < heard_every) return;
    last_heard_ = now;
    state_->heard(fd_, now);
  }

  rw_state refuse(const status& why) {
    failed_ = true;
    ++state_->counters().failed_connections;
    state_->log("closed " + peer_name(fd_) + ": " + why.message());
    return rw_state::failure;
  }

  std::shared_ptr<guard_state> state_;
  native_socket fd_;
  caf::openssl::session_ptr tls_;
  wire_guard guard_;
  std::vector<uint8_t> guard_out_;
  std::vector<uint8_t> held_;
  bool established_ = false;
  bool failed_ = false;
  clock_type::time_point last_heard_{};
};

using default_mpx = caf::io::network::default_multiplexer;

class guarded_scribe : public caf::io::scribe {
 public:
  guarded_scribe(default_mpx& mpx, native_socket fd, std::shared_ptr<guard_state> state,
                 guard_role role, caf::openssl::session_ptr tls)
      : caf::io::scribe(caf::io::network::conn_hdl_from_socket(fd)),
        stream_(mpx, fd, std::move(state), fd, role, std::move(tls)) {}

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_) launch();
  }
  void ack_writes(bool enable) override { stream_.ack_writes(enable); }
  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }
  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }
  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }
  void flush() override { stream_.flush(this); }
  std::string addr() const override {
    auto x = caf::io::network::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string();
  }
  uint16_t port() const override {
    auto x = caf::io::network::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }
  void add_to_loop() override { stream_.activate(this); }
  void remove_from_loop() override { stream_.passivate(); }

 private:
  // The empty write sends the swarm key hello (and drives a TLS handshake) before the
  // peer has said anything.
  void launch() {
    launched_ = true;
    stream_.start(this);
    stream_.force_empty_write(this);
  }

  bool launched_ = false;
  caf::io::network::stream_impl<guard_policy> stream_;
};

caf::openssl::session_ptr tls_session(caf::actor_system& system, native_socket fd, bool accepted,
                                      bool on) {
  if (!on) return nullptr;
  return caf::openssl::make_session(system, fd, accepted);
}

class guarded_doorman : public caf::io::network::doorman_impl {
 public:
  guarded_doorman(default_mpx& mpx, native_socket fd, std::shared_ptr<guard_state> state)
      : caf::io::network::doorman_impl(mpx, fd), state_(std::move(state)) {}

  bool new_connection() override {
    if (detached()) return false;
    auto& mpx = acceptor_.backend();
    const native_socket fd = acceptor_.accepted_socket();
    caf::detail::socket_guard owned{fd};
    const auto addr = caf::io::network::remote_addr_of_fd(fd);
    status admitted = state_->admit_inbound(fd, addr ? *addr : std::string("?"));
    if (!admitted.ok()) {
      state_->log("refused " + peer_name(fd) + ": " + admitted.message());
      return false;
    }
    caf::io::network::nonblocking(fd, true);
    caf::io::network::keepalive(fd, true);
    auto tls = tls_session(parent()->system(), fd, true, state_->settings().tls);
    if (state_->settings().tls && !tls) {
      state_->closed(fd);
      state_->log("refused " + peer_name(fd) + ": no TLS session");
      return false;
    }
    auto scribe =
        caf::make_counted<guarded_scribe>(mpx, fd, state_, guard_role::acceptor, std::move(tls));
    owned.release();
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

 private:
  std::shared_ptr<guard_state> state_;
};

class guarded_middleman_actor : public caf::io::middleman_actor_impl {
 public:
  guarded_middleman_actor(caf::actor_config& cfg, caf::actor broker,
                          std::shared_ptr<guard_state> state)
      : caf::io::middleman_actor_impl(cfg, std::move(broker)), state_(std::move(state)) {}

  const char* name() const override { return "corolla::guarded_middleman"; }

 protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd) return std::move(fd.error());
    caf::detail::socket_guard owned{*fd};
    caf::io::network::nonblocking(*fd, true);
    caf::io::network::keepalive(*fd, true);
    auto tls = tls_session(system(), *fd, false, state_->settings().tls);
    if (state_->settings().tls && !tls) return caf::sec::cannot_connect_to_node;
    state_->admit_outbound(*fd);
    owned.release();
    return caf::make_counted<guarded_scribe>(mpx(), *fd, state_, guard_role::connector,
                                             std::move(tls));
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr, bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd) return std::move(fd.error());
    return caf::make_counted<guarded_doorman>(mpx(), *fd, state_);
  }

 private:
  default_mpx& mpx() { return static_cast<default_mpx&>(system().middleman().backend()); }

  std::shared_ptr<guard_state> state_;
};

class guard_module : public caf::actor_system::module {
 public:
  guard_module(caf::actor_system& system, guard_settings settings)
      : system_(system), state_(std::make_shared<guard_state>(std::move(settings))) {}

  void start() override {
    const caf::node_id& node = system_.node();
    if (node && node->implementation_id() == caf::node_id::default_data::class_id) {
      const auto& data = static_cast<const caf::node_id::default_data&>(*node);
      node_identity self;
      self.process_id = data.process_id();
      const auto host = data.host_id();
      std::copy(host.begin(), host.end(), self.host.begin());
      state_->self = self;
    }
    state_->system = &system_;
    auto broker = system_.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
    state_->actor = system_.spawn<guarded_middleman_actor, caf::detached + caf::hidden>(
        std::move(broker), state_);
    state_->start();
    std::lock_guard<std::mutex> lock(registry_mu);
    registry()[&system_] = state_;
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(registry_mu);
      registry().erase(&system_);
    }
    caf::scoped_actor self{system_, true};
    self->send_exit(state_->actor, caf::exit_reason::kill);
    self->wait_for(state_->actor);
    state_->actor = nullptr;
    state_->stop();
  }

  void init(caf::actor_system_config&) override {}
  id_t id() const override { return network_manager; }
  void* subtype_ptr() override { return this; }

 private:
  caf::actor_system& system_;
  std::shared_ptr<guard_state> state_;
};

}  // namespace

void load_guard(caf::actor_system_config& cfg, guard_settings settings) {
  cfg.module_factories.push_back(
      [settings](caf::actor_system& system) -> caf::actor_system::module* {
        return new guard_module(system, settings);
      });
}

caf::io::middleman_actor guarded_middleman(caf::actor_system& system) {
  auto state = state_of(system);
  return state ? state->actor : caf::io::middleman_actor();
}

const guard_counters* guard_counters_of(caf::actor_system& system) {
  auto state = state_of(system);
  return state ? &state->counters() : nullptr;
}

}  // namespace corolla
