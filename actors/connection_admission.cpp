#include "actors/connection_admission.hpp"

namespace corolla {

status connection_admission::admit_inbound(connection_id id, const std::string& address,
                                           time_point now) {
  auto refuse = [&](const std::string& why) {
    ++refused_;
    return status::out_of_range(why);
  };
  if (entries_.size() >= limits_.max_connections) {
    return refuse(std::to_string(limits_.max_connections) + " connections already open");
  }
  if (pending_ >= limits_.max_pending) {
    return refuse(std::to_string(limits_.max_pending) + " connections already handshaking");
  }
  size_t& from_address = pending_by_address_[address];
  if (from_address >= limits_.max_pending_per_address) {
    return refuse(std::to_string(from_address) + " connections from " + address +
                  " already handshaking");
  }
  ++from_address;
  ++pending_;
  entries_[id] = entry{address, now + limits_.handshake_timeout, now, true};
  return status::ok_status();
}

void connection_admission::admit_outbound(connection_id id, time_point now) {
  entries_[id] = entry{std::string(), now + limits_.handshake_timeout, now, true};
}

void connection_admission::heard(connection_id id, time_point now) {
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.heard = now;
}

void connection_admission::established(connection_id id, time_point now) {
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.pending) return;
  release(it->second);
  it->second.heard = now;
}

void connection_admission::closed(connection_id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.pending) release(it->second);
  entries_.erase(it);
}

void connection_admission::release(entry& e) {
  e.pending = false;
  if (e.address.empty()) return;
  --pending_;
  auto by = pending_by_address_.find(e.address);
  if (--by->second == 0) pending_by_address_.erase(by);
}

std::vector<connection_admission::expiry> connection_admission::expired(time_point now) const {
  const auto silence = limits_.silence_timeout;
  std::vector<expiry> out;
  for (const auto& [id, e] : entries_) {
    if (e.pending && now >= e.deadline) out.push_back({id, false});
    if (!e.pending && silence.count() > 0 && now > e.heard + silence) out.push_back({id, true});
  }
  return out;
}

}  // namespace corolla
