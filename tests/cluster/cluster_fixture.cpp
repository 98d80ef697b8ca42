#include "tests/cluster/cluster_fixture.hpp"

namespace corolla::testing {

std::string Cluster::model_;
std::string Cluster::other_model_;

}  // namespace corolla::testing
