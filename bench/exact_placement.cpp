#include "bench/exact_placement.hpp"

#include <glpk.h>

#include <algorithm>
#include <memory>

namespace corolla {
namespace {

struct problem_deleter {
  void operator()(glp_prob* p) const { glp_delete_prob(p); }
};

}  // namespace

exact_result exact_placement(const std::vector<swarm_span>& spans, int64_t n_blocks,
                             double time_limit_s) {
  exact_result r;
  if (spans.empty() || n_blocks < 1) return r;
  std::unique_ptr<glp_prob, problem_deleter> lp(glp_create_prob());
  glp_prob* p = lp.get();
  glp_set_obj_dir(p, GLP_MAX);
  const int servers = int(spans.size());
  // Rows 1..servers: one start per server; rows servers+1..servers+n_blocks: coverage.
  glp_add_rows(p, servers + int(n_blocks));
  for (int i = 0; i < servers; ++i) glp_set_row_bnds(p, 1 + i, GLP_FX, 1, 1);
  for (int64_t b = 0; b < n_blocks; ++b) glp_set_row_bnds(p, servers + 1 + int(b), GLP_LO, 0, 0);
  // Column 1: z; then each server's starts.
  std::vector<int> rows{0};
  std::vector<int> cols{0};
  std::vector<double> values{0};
  glp_add_cols(p, 1);
  glp_set_col_bnds(p, 1, GLP_LO, 0, 0);
  glp_set_obj_coef(p, 1, 1);
  for (int64_t b = 0; b < n_blocks; ++b) {
    rows.push_back(servers + 1 + int(b));
    cols.push_back(1);
    values.push_back(-1);
  }
  std::vector<std::pair<int, int64_t>> column_of;  // (server, start) per column from 2
  for (int i = 0; i < servers; ++i) {
    const int64_t length = spans[size_t(i)].end - spans[size_t(i)].start;
    for (int64_t s = 0; s + length <= n_blocks; ++s) {
      const int col = glp_add_cols(p, 1);
      glp_set_col_kind(p, col, GLP_BV);
      column_of.emplace_back(i, s);
      rows.push_back(1 + i);
      cols.push_back(col);
      values.push_back(1);
      for (int64_t b = s; b < s + length; ++b) {
        rows.push_back(servers + 1 + int(b));
        cols.push_back(col);
        values.push_back(spans[size_t(i)].throughput);
      }
    }
  }
  glp_load_matrix(p, int(rows.size()) - 1, rows.data(), cols.data(), values.data());
  // The LP relaxation first: its value bounds every placement, and intopt starts from it.
  glp_smcp simplex;
  glp_init_smcp(&simplex);
  simplex.msg_lev = GLP_MSG_OFF;
  if (glp_simplex(p, &simplex) != 0 || glp_get_status(p) != GLP_OPT) return r;
  const double relaxed = glp_get_obj_val(p);
  glp_iocp options;
  glp_init_iocp(&options);
  options.msg_lev = GLP_MSG_OFF;
  options.gmi_cuts = GLP_ON;
  options.mir_cuts = GLP_ON;
  options.tm_lim = int(std::max(1.0, time_limit_s * 1000));
  const int status = glp_intopt(p, &options);
  const int found = glp_mip_status(p);
  if (found != GLP_OPT && found != GLP_FEAS) return r;
  r.solved = true;
  r.optimal = status == 0 && found == GLP_OPT;
  r.starts.assign(spans.size(), 0);
  for (size_t c = 0; c < column_of.size(); ++c) {
    if (glp_mip_col_val(p, int(c) + 2) > 0.5)
      r.starts[size_t(column_of[c].first)] = column_of[c].second;
  }
  std::vector<swarm_span> placed = spans;
  for (size_t i = 0; i < placed.size(); ++i) {
    placed[i].end = r.starts[i] + (placed[i].end - placed[i].start);
    placed[i].start = r.starts[i];
  }
  r.throughput = swarm_throughput(placed, n_blocks);
  // GLPK keeps the open tree's bound only while it searches, so an unfinished search
  // reports the LP relaxation's value (never below the true bound).
  r.bound = r.optimal ? r.throughput : relaxed;
  return r;
}

}  // namespace corolla
