// The control service (Ray's GCS): node membership, the cluster resource view
// pushed to every node, the job table, failure detection by health checks,
// node leases (fencing), the publication of deaths, and the actor table
// (actor_directory.h). Its tables (jobs, nodes, dead nodes, actors) are
// persisted (EfPersist, kept in SQLite by the backend); a restarted control
// service is built from them (ControlServiceConfig::recovered).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/common/buggify.h"
#include "core/common/step.h"
#include "core/gcs/actor_directory.h"

namespace dray {

struct ControlServiceConfig {
  Addr addr;
  uint64_t seed = 0;
  // Failure detection (Ray's defaults: a 3 s period, 5 misses).
  TimeNs health_period_ns = 3'000'000'000;
  uint32_t health_misses = 5;
  // The durable tables of a previous incarnation (empty on a first start).
  std::vector<PersistRecord> recovered;
  BuggifyConfig buggify;  // off unless the simulator turns it on
  MSGPACK_DEFINE(addr, seed, health_period_ns, health_misses, recovered, buggify);
};

class ControlService final : public Component {
 public:
  explicit ControlService(ControlServiceConfig cfg);
  void Step(const Input& in, Context& cx) override;
  void CheckInvariants() const override;
  const char* Kind() const override { return "gcs"; }

  const std::map<NodeId, NodeView>& nodes() const { return nodes_; }
  const std::map<NodeId, std::vector<ResourceSet>>& infeasible() const { return infeasible_; }
  JobId jobs() const { return next_job_ - 1; }
  bool IsDead(NodeId n) const { return dead_.count(n) != 0; }
  bool recovered() const { return !cfg_.recovered.empty(); }
  const ActorDirectory& actors() const { return actors_; }
  static constexpr uint64_t kHealthTimer = 1;

 private:
  void StepInner(const Input& in, Context& cx);
  void PersistDirty(Context& cx);  // what this step changed in the durable tables
  void Broadcast(Context& cx, NodeId except);
  void Publish(const Deaths& m, Context& cx);
  void HealthRound(Context& cx);
  void DeclareDead(NodeId n, const std::string& cause, Context& cx);
  bool FromLiveNode(const Addr& from, NodeId claimed, Context& cx, bool sign_of_life = true);
  ControlServiceConfig cfg_;
  std::map<NodeId, NodeView> nodes_;  // ordered: broadcasts are deterministic
  std::map<NodeId, std::vector<ResourceSet>> infeasible_;
  JobId next_job_ = 1;
  std::map<JobId, Addr> drivers_;  // the job table: who to tell of deaths
  struct Health {
    bool heard = true;  // since the last round
    uint32_t misses = 0;
  };
  std::map<NodeId, Health> health_;
  std::map<NodeId, std::string> dead_;  // declared dead, never again alive (a restart is a new node)
  uint64_t health_seq_ = 0;
  uint64_t fenced_messages_ = 0;
  uint64_t version_ = 0;
  ActorDirectory actors_;  // after nodes_: it reads them
  // Durable rows changed by the current step.
  std::set<NodeId> dirty_nodes_;
  bool dirty_jobs_ = false;
};

}  // namespace dray
