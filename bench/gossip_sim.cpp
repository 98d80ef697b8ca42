#include "bench/gossip_sim.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "actors/membership.hpp"
#include "messages/protocol.hpp"
#include "messages/wire.hpp"

namespace corolla {

const char* to_string(gossip_protocol p) {
  return p == gossip_protocol::full ? "full" : "delta";
}

namespace {

// A CAF message's bytes besides its payload: BASP's 32-byte header, the registered
// type's name, the request id and the payload's length prefix (an estimate).
constexpr double message_overhead = 80;
constexpr double heartbeat_bytes = 32;  // a BASP header alone
constexpr double handle_bytes = 36;     // an actor handle on the wire: node id, actor id
// What every gossip message names besides its entries: protocol version and model id.
constexpr double swarm_identity_bytes = 4 + 8 + 40;

// One-way latency between regions in ms (about half the round trips between public cloud
// regions): North America east and west, Europe, Asia, South America, Oceania.
constexpr int n_regions = 6;
constexpr double region_ms[n_regions][n_regions] = {
    {5, 35, 40, 100, 60, 100},  {35, 5, 75, 60, 90, 70},     {40, 75, 5, 90, 100, 140},
    {100, 60, 90, 10, 150, 60}, {60, 90, 100, 150, 10, 160}, {100, 70, 140, 60, 160, 10}};
constexpr double region_share[n_regions] = {0.3, 0.15, 0.3, 0.15, 0.05, 0.05};

constexpr uint32_t dead_bit = 0x80000000u;

server_record typical_record(uint64_t id) {
  server_record r;
  r.server_id = id;
  r.name = "203.0.113.57:41234/server-1";
  r.protocol_version = protocol_version;
  r.start_block = 8;
  r.end_block = 16;
  r.state = uint8_t(serving_state::online);
  r.compute_ms_per_block = 1.7;
  r.rtt_ms = 24.5;
  r.cache_bytes_free = int64_t(900) << 20;
  r.version = 12;
  r.host = "203.0.113.57";
  r.port = 41234;
  r.model_id = "8f3a9c2e71d04b5a+f16kv";
  r.sessions = 3;
  r.throughput = 17.5;
  r.kv_rows = 1800;
  return r;
}

// Heap bytes one replica's table of `n` records takes: a real membership, and the
// routing table's maps of handles and round trips beside it.
double measure_table_bytes(int n) {
  const size_t before = mallinfo2().uordblks;
  size_t after = before;
  {
    membership members(typical_record(0).model_id, std::chrono::milliseconds(0));
    std::map<uint64_t, uint64_t> handles;
    std::map<uint64_t, double> rtt;
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      server_record r = typical_record(0x9e3779b97f4a7c15ULL * uint64_t(i + 1));
      (void)members.merge(r, now);
      handles[r.server_id] = uint64_t(i);
      rtt[r.server_id] = 1.0;
    }
    after = mallinfo2().uordblks;
  }
  return after > before ? double(after - before) : 0.0;
}

struct message {
  enum kind_t : uint8_t { offer, answer, records, join_request, join_reply, full_push, full_reply };
  kind_t kind = offer;
  int from = 0, to = 0;
  bool periodic = false;
  double bytes = 0;
  std::vector<gossip_entry> entries, listed, bodies;
  std::vector<uint64_t> sums, wants;
  std::vector<int> buckets;
  std::shared_ptr<const std::vector<uint32_t>> snapshot;
};

std::shared_ptr<message> make_message(message::kind_t kind, int from, int to) {
  auto m = std::make_shared<message>();
  m->kind = kind;
  m->from = from;
  m->to = to;
  return m;
}

struct event {
  enum kind_t : uint8_t { deliver, tick, join, death, detect };
  double at = 0;
  uint64_t seq = 0;
  kind_t kind = tick;
  int node = 0;
  int subject = 0;  // detect: the node `node` finds dead
  std::shared_ptr<message> msg;
  bool operator>(const event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

struct replica {
  bool alive = false;
  int region = 0;
  std::vector<uint32_t> versions;  // by node; 0: unknown; dead_bit: a death notice
  int known_live = 0;
  bucket_sums sums{1};
  gossip_rumors rumors{1};
  std::vector<int> links;  // delta: connections whose heartbeats find deaths
  uint32_t own_version = 0;
  double next_refresh = 0;
  int64_t rounds = 0;
  double bytes_in = 0;  // within the measurement window
  bool whole_window = true;
};

struct tracked_event {
  int subject = 0;
  bool join = true;
  double start = 0;
  int have = 0;  // live replicas that know
  double done_ms = -1;
};

class simulation {
 public:
  explicit simulation(const gossip_sim_options& o)
      : o_(o), rng_(o.seed), period_ms_(double(o.settings.period.count())) {}

  gossip_sim_result run();

 private:
  bool delta() const { return o_.protocol == gossip_protocol::delta; }
  double unit() { return double(rng_() >> 11) * 0x1.0p-53; }
  bool live(uint32_t v) const { return v != 0 && !(v & dead_bit); }
  gossip_entry entry_of(int id, uint32_t v) const {
    return gossip_entry{uint64_t(id), v & ~dead_bit, (v & dead_bit) != 0};
  }

  // A live entry offered to `r` whose record it should ask for.
  bool wanted(const replica& r, const gossip_entry& e) const {
    const uint32_t held = r.versions[size_t(e.server_id)];
    return held == 0 || supersedes(e, entry_of(int(e.server_id), held));
  }
  void schedule(double at, event::kind_t kind, int node, int subject = 0,
                std::shared_ptr<message> msg = nullptr) {
    queue_.push(event{at, seq_++, kind, node, subject, std::move(msg)});
  }
  void send(std::shared_ptr<message> m);
  int random_live_peer(int n);
  bool knows(const replica& r, const tracked_event& t) const {
    return t.join ? live(r.versions[size_t(t.subject)]) : !live(r.versions[size_t(t.subject)]);
  }
  void check_done(tracked_event& t);
  bool take(int n, const gossip_entry& e, bool as_rumor);

  void on_tick(int n);
  void on_offer(const message& m);
  void on_answer(const message& m);
  void on_records(const message& m);
  void forward(int n, const std::vector<gossip_entry>& news);
  void full_merge(int n, const std::vector<uint32_t>& from);
  void push_all(int n);
  void on_join(int j);
  void on_join_reply(const message& m);
  void on_death(int d);
  void on_detect(int n, int d);
  void link(int a, int b);
  double refresh_ms(const replica& r) const {
    return delta() ? double(refresh_interval(size_t(r.known_live), o_.settings).count())
                   : period_ms_;
  }

  gossip_sim_options o_;
  std::mt19937_64 rng_;
  double period_ms_;
  double now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<event, std::vector<event>, std::greater<event>> queue_;
  std::vector<replica> nodes_;
  std::vector<std::vector<int>> bucket_members_;  // delta: node ids by bucket
  std::vector<tracked_event> tracked_;
  int alive_ = 0;
  double record_bytes_ = 0;
  double window_start_ = 0, window_end_ = 0;
  uint64_t messages_ = 0;
  uint64_t lost_ = 0;
  double join_transfer_bytes_ = 0, join_transfer_ms_ = 0;
};

void simulation::send(std::shared_ptr<message> m) {
  double payload = 0;
  switch (m->kind) {
    case message::offer:
      payload = swarm_identity_bytes + gossip_entry_bytes * double(m->entries.size()) +
                8.0 * double(m->sums.size());
      break;
    case message::answer:
      payload = 8.0 * double(m->wants.size()) +
                gossip_entry_bytes * double(m->entries.size() + m->listed.size()) +
                4.0 * double(m->buckets.size());
      break;
    case message::records:
      for (const gossip_entry& e : m->bodies)
        payload += e.dead ? gossip_entry_bytes : record_bytes_;
      payload += 8.0 * double(m->wants.size());
      break;
    case message::join_request:
      payload = swarm_identity_bytes;
      break;
    case message::join_reply:
    case message::full_push:
    case message::full_reply:
      payload = m->bytes;  // set by the sender: its table
      break;
  }
  m->bytes = message_overhead + payload;
  const replica& a = nodes_[size_t(m->from)];
  const replica& b = nodes_[size_t(m->to)];
  const double ms = region_ms[a.region][b.region] * (0.9 + 0.2 * unit()) +
                    m->bytes * 8.0 / (o_.uplink_mbits * 1e3);
  ++messages_;
  const bool table = m->kind == message::join_request || m->kind == message::join_reply;
  if (!table && o_.loss > 0 && unit() < o_.loss) {
    ++lost_;
    return;
  }
  const int to = m->to;
  schedule(now_ + ms, event::deliver, to, 0, std::move(m));
}

int simulation::random_live_peer(int n) {
  const replica& r = nodes_[size_t(n)];
  if (r.known_live <= 1) return -1;
  for (int tries = 0; tries < 64; ++tries) {
    const int i = int(random_below(rng_, r.versions.size()));
    if (i != n && live(r.versions[size_t(i)])) return i;
  }
  for (size_t i = 0; i < r.versions.size(); ++i) {
    if (int(i) != n && live(r.versions[i])) return int(i);
  }
  return -1;
}

void simulation::check_done(tracked_event& t) {
  if (t.done_ms < 0 && t.have >= alive_) t.done_ms = now_ - t.start;
}

// Takes `e` into n's replica if it is news to it (membership's rule: a higher version
// replaces, a death notice kills its version and older ones). True when a server became
// known alive or known dead: what delta forwards at once and full pushes everywhere.
bool simulation::take(int n, const gossip_entry& e, bool as_rumor) {
  replica& r = nodes_[size_t(n)];
  uint32_t& held = r.versions[size_t(e.server_id)];
  const uint32_t held_version = held & ~dead_bit;
  // As membership::kill: a notice about a server not held alive is ignored, and the
  // tombstone keeps the record's own version.
  if (e.dead && !live(held)) return false;
  if (held != 0 && !supersedes(e, entry_of(int(e.server_id), held))) return false;
  const bool was_live = live(held);
  std::vector<std::pair<tracked_event*, bool>> watched;
  for (tracked_event& t : tracked_) {
    if (uint64_t(t.subject) == e.server_id && r.alive) watched.push_back({&t, knows(r, t)});
  }
  if (was_live) {
    r.sums.toggle(e.server_id, held_version);
    --r.known_live;
  }
  held = e.dead ? held_version | dead_bit : uint32_t(e.version);
  if (!e.dead) {
    r.sums.toggle(e.server_id, e.version);
    ++r.known_live;
  }
  if (as_rumor) r.rumors.heard(e);
  for (auto& [t, knew] : watched) {
    t->have += int(knows(r, *t)) - int(knew);
    check_done(*t);
  }
  // A replica monitors every server it takes: one already dead is found dead a round trip
  // later (the connection attempt fails), whatever stale gossip brought it back.
  const replica& subject = nodes_[size_t(e.server_id)];
  if (!e.dead && !was_live && !subject.alive && r.alive) {
    schedule(now_ + 2 * region_ms[r.region][subject.region], event::detect, n, int(e.server_id));
  }
  return e.dead ? was_live : !was_live;
}

void simulation::forward(int n, const std::vector<gossip_entry>& news) {
  if (news.empty() || o_.settings.fanout <= 0) return;
  std::vector<int> peers;
  for (int k = 0; k < o_.settings.fanout * 4 && int(peers.size()) < o_.settings.fanout; ++k) {
    const int p = random_live_peer(n);
    if (p >= 0 && std::find(peers.begin(), peers.end(), p) == peers.end()) peers.push_back(p);
  }
  for (int p : peers) {
    auto m = make_message(message::offer, n, p);
    m->entries = news;
    send(std::move(m));
  }
}

void simulation::on_tick(int n) {
  replica& r = nodes_[size_t(n)];
  if (!r.alive) return;
  if (now_ >= r.next_refresh) {
    ++r.own_version;
    const gossip_entry own{uint64_t(n), r.own_version, false};
    take(n, own, delta());
    r.next_refresh = now_ + refresh_ms(r);
    // The nodes linked to this one hear each announcement directly: they are the ones
    // that will declare it dead, and a death notice names the version it kills.
    for (int l : r.links) {
      auto m = make_message(message::records, n, l);
      m->bodies = {own};
      send(std::move(m));
    }
  }
  ++r.rounds;
  const int peer = random_live_peer(n);
  if (peer >= 0) {
    auto m = make_message(delta() ? message::offer : message::full_push, n, peer);
    m->periodic = true;
    if (delta()) {
      m->entries = r.rumors.hot();
      if (r.rounds % o_.settings.anti_entropy_every == 0) m->sums = r.sums.sums();
    } else {
      m->snapshot = std::make_shared<const std::vector<uint32_t>>(r.versions);
      m->bytes = swarm_identity_bytes + double(r.known_live) * record_bytes_;
    }
    send(std::move(m));
  }
  if (delta()) r.rumors.round_done();
  schedule(now_ + period_ms_, event::tick, n);
}

void simulation::on_offer(const message& m) {
  const int b = m.to;
  replica& r = nodes_[size_t(b)];
  auto a = make_message(message::answer, b, m.from);
  a->periodic = m.periodic;
  std::vector<gossip_entry> news;
  std::unordered_map<uint64_t, uint64_t> offered;
  for (const gossip_entry& e : m.entries) {
    offered[e.server_id] = e.version;
    if (e.dead) {
      if (take(b, e, true)) news.push_back(e);
    } else {
      if (wanted(r, e)) a->wants.push_back(e.server_id);
    }
  }
  if (m.periodic) {
    for (const gossip_entry& e : r.rumors.hot()) {
      auto it = offered.find(e.server_id);
      if (it == offered.end() || it->second != e.version) a->entries.push_back(e);
    }
    if (!m.sums.empty()) {
      a->buckets = r.sums.differing(m.sums, o_.settings.listed_buckets, rng_);
      for (int bucket : a->buckets) {
        for (int id : bucket_members_[size_t(bucket)]) {
          const uint32_t v = r.versions[size_t(id)];
          if (v != 0) a->listed.push_back(entry_of(id, v));
        }
      }
    }
  }
  if (m.periodic || !a->wants.empty()) send(std::move(a));
  forward(b, news);
}

void simulation::on_answer(const message& m) {
  const int n = m.to;
  replica& r = nodes_[size_t(n)];
  auto rec = make_message(message::records, n, m.from);
  std::vector<gossip_entry> news;
  // An answer names few servers: a set, not a flag per server of the swarm.
  std::unordered_set<uint64_t> sent;
  for (uint64_t id : m.wants) {
    const uint32_t v = r.versions[size_t(id)];
    if (v != 0 && sent.insert(id).second) rec->bodies.push_back(entry_of(int(id), v));
  }
  std::unordered_map<uint64_t, gossip_entry> theirs;
  auto consider = [&](const gossip_entry& e) {
    if (e.dead) {
      if (take(n, e, true)) news.push_back(e);
      return;
    }
    if (wanted(r, e)) rec->wants.push_back(e.server_id);
  };
  for (const gossip_entry& e : m.entries) consider(e);
  for (const gossip_entry& e : m.listed) {
    theirs[e.server_id] = e;
    consider(e);
  }
  for (int bucket : m.buckets) {
    for (int id : bucket_members_[size_t(bucket)]) {
      const uint32_t v = r.versions[size_t(id)];
      if (v == 0 || sent.count(uint64_t(id))) continue;
      auto it = theirs.find(uint64_t(id));
      const gossip_entry mine = entry_of(id, v);
      if (it == theirs.end() || supersedes(mine, it->second)) {
        rec->bodies.push_back(mine);
        sent.insert(uint64_t(id));
      }
    }
  }
  if (!rec->bodies.empty() || !rec->wants.empty()) send(std::move(rec));
  forward(n, news);
}

void simulation::on_records(const message& m) {
  const int n = m.to;
  std::vector<gossip_entry> news;
  for (const gossip_entry& e : m.bodies) {
    if (take(n, e, true)) news.push_back(e);
  }
  if (!m.wants.empty()) {
    const replica& r = nodes_[size_t(n)];
    auto rec = make_message(message::records, n, m.from);
    for (uint64_t id : m.wants) {
      if (r.versions[size_t(id)] != 0)
        rec->bodies.push_back(entry_of(int(id), r.versions[size_t(id)]));
    }
    if (!rec->bodies.empty()) send(std::move(rec));
  }
  forward(n, news);
}

void simulation::full_merge(int n, const std::vector<uint32_t>& from) {
  bool news = false;
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 0 && from[i] != nodes_[size_t(n)].versions[i]) {
      news |= take(n, entry_of(int(i), from[i]), false) && !(from[i] & dead_bit);
    }
  }
  // Protocol 5 passes a server new to this replica on at once, as its whole table to
  // every peer (routing_table's push_all).
  if (news) push_all(n);
}

void simulation::push_all(int n) {
  const replica& r = nodes_[size_t(n)];
  auto snapshot = std::make_shared<const std::vector<uint32_t>>(r.versions);
  for (size_t p = 0; p < r.versions.size(); ++p) {
    if (int(p) == n || !live(r.versions[p])) continue;
    auto m = make_message(message::full_push, n, int(p));
    m->snapshot = snapshot;
    m->bytes = swarm_identity_bytes + double(r.known_live) * record_bytes_;
    send(std::move(m));
  }
}

void simulation::link(int a, int b) {
  nodes_[size_t(a)].links.push_back(b);
  nodes_[size_t(b)].links.push_back(a);
}

void simulation::on_join(int j) {
  replica& r = nodes_[size_t(j)];
  r.alive = true;
  r.whole_window = false;
  ++alive_;
  for (tracked_event& t : tracked_) {
    if (knows(r, t)) ++t.have;
  }
  tracked_.push_back(tracked_event{j, true, now_, 0, -1});
  std::vector<int> live_nodes;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].alive && int(i) != j) live_nodes.push_back(int(i));
  }
  const int seed = live_nodes[size_t(random_below(rng_, live_nodes.size()))];
  if (delta()) {
    auto m = make_message(message::join_request, j, seed);
    send(std::move(m));
  } else {
    // Protocol 5: the joiner's first gossip round with its seed carries its own record.
    r.own_version = 1;
    take(j, gossip_entry{uint64_t(j), 1, false}, false);
    auto m = make_message(message::full_push, j, seed);
    m->snapshot = std::make_shared<const std::vector<uint32_t>>(r.versions);
    m->bytes = swarm_identity_bytes + record_bytes_;
    send(std::move(m));
    r.next_refresh = now_ + period_ms_;
    schedule(now_ + period_ms_ * unit(), event::tick, j);
  }
}

// The joiner has its seed's table: it announces itself as news and opens its links.
void simulation::on_join_reply(const message& m) {
  const int j = m.to;
  replica& r = nodes_[size_t(j)];
  join_transfer_bytes_ = m.bytes;
  join_transfer_ms_ = now_ - tracked_.back().start;
  for (size_t i = 0; i < m.snapshot->size(); ++i) {
    if ((*m.snapshot)[i] != 0) take(j, entry_of(int(i), (*m.snapshot)[i]), false);
  }
  r.own_version = 1;
  const gossip_entry self{uint64_t(j), 1, false};
  take(j, self, true);
  forward(j, {self});
  for (int k = 0; k < o_.view * 4 && int(r.links.size()) < o_.view; ++k) {
    const int p = random_live_peer(j);
    if (p >= 0 && std::find(r.links.begin(), r.links.end(), p) == r.links.end()) link(j, p);
  }
  r.next_refresh = now_ + refresh_ms(r);
  schedule(now_ + period_ms_ * unit(), event::tick, j);
}

void simulation::on_death(int d) {
  replica& r = nodes_[size_t(d)];
  for (tracked_event& t : tracked_) {
    if (t.done_ms < 0 && knows(r, t)) --t.have;
  }
  r.alive = false;
  --alive_;
  tracked_event t{d, false, now_, 0, -1};
  for (const replica& other : nodes_) {
    if (other.alive && knows(other, t)) ++t.have;
  }
  tracked_.push_back(t);
  for (tracked_event& other : tracked_) check_done(other);
  // Heartbeats stop: each connected node finds out within the timeout plus a beat.
  std::vector<int> watchers;
  if (delta()) {
    watchers = r.links;
  } else {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].alive) watchers.push_back(int(i));
    }
  }
  for (int w : watchers) {
    schedule(now_ + o_.heartbeat_timeout_ms + o_.heartbeat_interval_ms * unit(), event::detect, w,
             d);
  }
}

void simulation::on_detect(int n, int d) {
  replica& r = nodes_[size_t(n)];
  if (!r.alive) return;
  const uint32_t held = r.versions[size_t(d)];
  if (live(held)) {
    const gossip_entry notice{uint64_t(d), held & ~dead_bit, true};
    if (take(n, notice, delta())) {
      if (delta()) forward(n, {notice});
    }
  }
  auto link_to_d = std::find(r.links.begin(), r.links.end(), d);
  if (!delta() || link_to_d == r.links.end()) return;
  r.links.erase(link_to_d);
  for (int k = 0; k < 8; ++k) {
    const int p = random_live_peer(n);
    if (p >= 0 && nodes_[size_t(p)].alive &&
        std::find(r.links.begin(), r.links.end(), p) == r.links.end()) {
      link(n, p);
      break;
    }
  }
}

gossip_sim_result simulation::run() {
  const auto wall_start = std::chrono::steady_clock::now();
  gossip_sim_result out;
  out.options = o_;
  record_bytes_ = gossip_record_bytes();
  const int n = o_.nodes;
  const int total = n + o_.joins;
  nodes_.resize(size_t(total));
  const gossip_settings& s = o_.settings;
  bucket_sums empty_sums(s.buckets);
  if (delta()) {
    bucket_members_.resize(size_t(s.buckets));
    for (int i = 0; i < total; ++i)
      bucket_members_[size_t(empty_sums.bucket_of(uint64_t(i)))].push_back(i);
  }
  // Steady state at the start: every replica holds every initial server at version 1,
  // and the refreshes and rounds run at random phases.
  bucket_sums initial = empty_sums;
  for (int i = 0; i < n; ++i) initial.toggle(uint64_t(i), 1);
  for (int i = 0; i < total; ++i) {
    replica& r = nodes_[size_t(i)];
    double pick = unit();
    for (int k = 0; k < n_regions; ++k) {
      pick -= region_share[k];
      if (pick <= 0 || k == n_regions - 1) {
        r.region = k;
        break;
      }
    }
    r.versions.assign(size_t(total), 0);
    r.sums = i < n ? initial : empty_sums;
    r.rumors = gossip_rumors(s.rumor_rounds);
    if (i >= n) continue;
    for (int k = 0; k < n; ++k) r.versions[size_t(k)] = 1;
    r.known_live = n;
    r.alive = true;
    r.own_version = 1;
    r.next_refresh = refresh_ms(r) * unit();
    schedule(period_ms_ * unit(), event::tick, i);
  }
  alive_ = n;
  if (delta()) {
    for (int i = 0; i < n; ++i) {
      while (int(nodes_[size_t(i)].links.size()) < o_.view && n > o_.view) {
        const int p = int(random_below(rng_, uint64_t(n)));
        auto& l = nodes_[size_t(i)].links;
        if (p != i && std::find(l.begin(), l.end(), p) == l.end()) link(i, p);
      }
    }
  }
  window_start_ = o_.warmup_periods * period_ms_;
  const int n_events = 2 * o_.joins;
  window_end_ = window_start_ + double(n_events + 1) * o_.event_spacing * period_ms_;
  int next_joiner = n;
  std::vector<int> killed;
  for (int e = 0; e < n_events; ++e) {
    const double at = window_start_ + double(e) * o_.event_spacing * period_ms_;
    if (e % 2 == 0) {
      schedule(at, event::join, next_joiner++);
    } else {
      int victim = int(random_below(rng_, uint64_t(n)));
      while (std::find(killed.begin(), killed.end(), victim) != killed.end()) {
        victim = int(random_below(rng_, uint64_t(n)));
      }
      killed.push_back(victim);
      schedule(at, event::death, victim);
    }
  }
  while (!queue_.empty() && queue_.top().at <= window_end_) {
    event ev = queue_.top();
    queue_.pop();
    now_ = ev.at;
    switch (ev.kind) {
      case event::tick:
        on_tick(ev.node);
        break;
      case event::join:
        on_join(ev.node);
        break;
      case event::death:
        on_death(ev.node);
        nodes_[size_t(ev.node)].whole_window = false;
        break;
      case event::detect:
        on_detect(ev.node, ev.subject);
        break;
      case event::deliver: {
        const message& m = *ev.msg;
        replica& to = nodes_[size_t(m.to)];
        if (!to.alive) break;
        if (now_ >= window_start_ && m.kind != message::join_reply) to.bytes_in += m.bytes;
        switch (m.kind) {
          case message::offer:
            on_offer(m);
            break;
          case message::answer:
            on_answer(m);
            break;
          case message::records:
            on_records(m);
            break;
          case message::join_request: {
            auto reply = make_message(message::join_reply, m.to, m.from);
            reply->snapshot = std::make_shared<const std::vector<uint32_t>>(to.versions);
            reply->bytes = swarm_identity_bytes + double(to.known_live) * record_bytes_;
            send(std::move(reply));
            break;
          }
          case message::join_reply:
            on_join_reply(m);
            break;
          case message::full_push: {
            full_merge(m.to, *m.snapshot);
            auto reply = make_message(message::full_reply, m.to, m.from);
            reply->bytes = swarm_identity_bytes + double(to.known_live) * record_bytes_;
            send(std::move(reply));
            break;
          }
          case message::full_reply:
            full_merge(m.to, nodes_[size_t(m.from)].versions);
            break;
        }
        break;
      }
    }
  }
  const double window_s = (window_end_ - window_start_) / 1000.0;
  double sum = 0, most = 0, links = 0;
  int counted = 0;
  for (int i = 0; i < n; ++i) {
    const replica& r = nodes_[size_t(i)];
    if (!r.whole_window) continue;
    const double per_s = r.bytes_in / window_s;
    sum += per_s;
    most = std::max(most, per_s);
    links += double(r.links.size());
    ++counted;
  }
  out.gossip_bytes_per_s = counted ? sum / counted : 0;
  out.gossip_bytes_per_s_max = most;
  out.record_bytes = record_bytes_;
  const double beats_per_s = 1000.0 / o_.heartbeat_interval_ms;
  if (delta()) {
    out.connections = counted ? links / counted : 0;
    // pings_per_round servers a round, in turn: the replies carry records, and as many
    // pings from others arrive on average.
    out.ping_bytes_per_s = double(std::min(s.pings_per_round, n - 1)) *
                           (2 * message_overhead + record_bytes_) / (period_ms_ / 1000.0);
  } else {
    // Protocol 5 connects to every node, and pings every server every period: its
    // requests arrive from every other node, its replies carry the server's record.
    out.connections = double(n - 1);
    out.ping_bytes_per_s =
        double(n - 1) * (2 * message_overhead + record_bytes_) / (period_ms_ / 1000.0);
  }
  out.heartbeat_bytes_per_s = out.connections * heartbeat_bytes * beats_per_s;
  for (const tracked_event& t : tracked_) out.events.push_back({t.join, t.done_ms});
  out.join_transfer_bytes = join_transfer_bytes_;
  out.join_transfer_ms = join_transfer_ms_;
  out.table_bytes = measure_table_bytes(n);
  out.refresh_s =
      delta() ? double(refresh_interval(size_t(n), s).count()) / 1000.0 : period_ms_ / 1000.0;
  out.ttl_s = delta() ? double(record_ttl(size_t(n), s).count()) / 1000.0 : 5.0;
  out.messages = messages_;
  out.lost = lost_;
  out.simulated_s = window_end_ / 1000.0;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return out;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string kib(double bytes) {
  return bytes >= 1 << 20 ? fixed(bytes / (1 << 20), 1) + " MiB" : fixed(bytes / 1024, 1) + " KiB";
}

}  // namespace

double gossip_record_bytes() {
  return double(to_wire(typical_record(1)).size()) + handle_bytes;
}

gossip_sim_result run_gossip_sim(const gossip_sim_options& options) {
  return simulation(options).run();
}

void print_gossip_sim(const std::vector<gossip_sim_result>& runs, std::ostream& out) {
  out << "| protocol | nodes | join reaches every replica, ms (mean / max) | gossip periods | "
         "death reaches every replica, ms (mean / max) | gossip received per node, /s (mean / "
         "max) | pings /s | heartbeats /s | connections | table per node | a join's first "
         "table | refresh | TTL |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
         "---: |\n";
  for (const gossip_sim_result& r : runs) {
    const double period = double(r.options.settings.period.count());
    auto times = [&](bool join, double& mean, double& most, int& missed) {
      double sum = 0;
      int done = 0;
      most = 0;
      missed = 0;
      for (const gossip_event_result& e : r.events) {
        if (e.join != join) continue;
        if (e.ms < 0) {
          ++missed;
          continue;
        }
        sum += e.ms;
        most = std::max(most, e.ms);
        ++done;
      }
      mean = done ? sum / done : -1;
    };
    double join_mean, join_max, death_mean, death_max;
    int join_missed, death_missed;
    times(true, join_mean, join_max, join_missed);
    times(false, death_mean, death_max, death_missed);
    auto spread = [&](double mean, double most, int missed) {
      std::string s = mean < 0 ? "never" : fixed(mean, 0) + " / " + fixed(most, 0);
      if (missed && mean >= 0) s += " (" + std::to_string(missed) + " never)";
      return s;
    };
    out << "| " << to_string(r.options.protocol) << " | " << r.options.nodes << " | "
        << spread(join_mean, join_max, join_missed) << " | "
        << (join_max > 0 ? fixed(join_max / period, 1) : "-") << " | "
        << spread(death_mean, death_max, death_missed) << " | " << kib(r.gossip_bytes_per_s)
        << " / " << kib(r.gossip_bytes_per_s_max) << " | " << kib(r.ping_bytes_per_s) << " | "
        << kib(r.heartbeat_bytes_per_s) << " | " << fixed(r.connections, 1) << " | "
        << kib(r.table_bytes) << " | "
        << (r.join_transfer_bytes > 0
                ? kib(r.join_transfer_bytes) + " in " + fixed(r.join_transfer_ms, 0) + " ms"
                : std::string("-"))
        << " | " << fixed(r.refresh_s, 1) << " s | " << fixed(r.ttl_s, 0) << " s |\n";
  }
  out << "\n";
  for (const gossip_sim_result& r : runs) {
    out << to_string(r.options.protocol) << ", " << r.options.nodes << " nodes: seed "
        << r.options.seed << ", " << r.messages << " messages ("
        << (r.lost ? std::to_string(r.lost) + " lost" : "none lost") << ") over "
        << fixed(r.simulated_s, 0) << " simulated s in " << fixed(r.wall_s, 1) << " s\n";
  }
}

}  // namespace corolla
