// The control service (Ray's GCS) for the spine: node membership, the cluster
// resource view pushed to every node, and the job table. Actors, health checks
// and SQLite persistence arrive with their issues.
#pragma once
#include <map>
#include <vector>

#include "core/common/step.h"

namespace dray {

struct ControlServiceConfig {
  Addr addr;
  uint64_t seed = 0;
  MSGPACK_DEFINE(addr, seed);
};

class ControlService final : public Component {
 public:
  explicit ControlService(ControlServiceConfig cfg) : cfg_(std::move(cfg)) {}
  void Step(const Input& in, Context& cx) override;
  void CheckInvariants() const override;
  const char* Kind() const override { return "gcs"; }

  const std::map<NodeId, NodeView>& nodes() const { return nodes_; }
  const std::map<NodeId, std::vector<ResourceSet>>& infeasible() const { return infeasible_; }
  JobId jobs() const { return next_job_ - 1; }

 private:
  void Broadcast(Context& cx, NodeId except);
  void Publish(const Deaths& m, Context& cx);
  ControlServiceConfig cfg_;
  std::map<NodeId, NodeView> nodes_;  // ordered: broadcasts are deterministic
  std::map<NodeId, std::vector<ResourceSet>> infeasible_;
  JobId next_job_ = 1;
  std::map<JobId, Addr> drivers_;  // the job table: who to tell of deaths
  uint64_t version_ = 0;
};

}  // namespace dray
