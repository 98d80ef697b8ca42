// status_page: the page GET / serves — the swarm's servers, each block's throughput,
// recent events and a small chat box, all from /api/swarm and the API (http/status_page.html,
// compiled in: the node serves every asset itself, no CDN).
#pragma once

#include <string>

namespace corolla {

const std::string& status_page_html();

}  // namespace corolla
