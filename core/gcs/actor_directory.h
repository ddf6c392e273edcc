// The control service's actor table (docs/actors.md): every actor's spec,
// state (pending, alive, restarting, dead with its cause), incarnation and
// worker; names per job; placement (the creation task goes to the owner's
// node manager, whose hybrid policy places it, as any task); restarts on a
// worker's or a node's death, up to max_restarts; death when the owner dies,
// when every handle is gone, or on Kill. Subscribers hear every change.
// Part of the ControlService component: it does no I/O of its own.
#pragma once
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/common/step.h"

namespace dray {

class ActorDirectory {
 public:
  // `nodes`: the control service's live nodes; `self`: its address (the
  // owner of every creation task, so that their failures come here).
  ActorDirectory(const std::map<NodeId, NodeView>* nodes, Addr self) : nodes_(nodes), self_(self) {}

  void OnRegister(const Addr& from, const RegisterActor& m, Context& cx);
  void OnGetInfo(const Addr& from, const GetActorInfo& m, Context& cx);
  void OnKill(const KillActor& m, Context& cx);
  // A node manager forwards its creation task's result (after it took the
  // worker as the actor's), or reports that the attempt failed.
  void OnCreationDone(const Addr& from, const TaskDone& m, Context& cx);
  void OnCreationFailed(const TaskFailed& m, Context& cx);
  void OnCreationPlaced(const TaskPlaced& m, Context& cx);
  // Processes or nodes died (the node view no longer has dead nodes).
  void OnDeaths(const Deaths& m, Context& cx);
  void CheckInvariants() const;

  size_t size() const { return actors_.size(); }
  // Persistence: the actors changed since the last call, and each one's row
  // (empty when it is gone); Restore files a row back after a restart.
  std::vector<uint64_t> TakeDirty();
  std::string Row(uint64_t actor) const;
  void Restore(const std::string& row);
  // The same for subscribers of actors not registered yet (GetActorInfo came
  // first): durable too, or a restart in between would lose them (the
  // recovery swarm, seed 108: a caller waited for good). Row "" erases.
  std::vector<uint64_t> TakeEarlyDirty();
  std::string EarlyRow(uint64_t actor) const;
  void RestoreEarly(uint64_t actor, const std::string& row);
  size_t alive() const;
  // nullptr when unknown.
  const ActorInfo* Find(uint64_t actor) const;

 private:
  struct Entry {
    ActorSpec spec;
    ActorInfo info;             // what subscribers hear (state, incarnation, worker, cause)
    bool placing = false;       // a creation attempt is out
    bool kill_pending = false;  // Kill with restart while being created: restart once created
    std::string kill_cause;
    NodeId placed = 0;          // ... on this node (TaskPlaced moves it)
    uint32_t placed_hop = 0;
    int32_t restarts = 0;
    Addr stopping;  // a killed incarnation's worker: the next starts once it stopped
    std::set<Addr> subscribers;  // ordered: deterministic publication
  };
  void Schedule(Entry& e, Context& cx);
  // count: a restart that counts against max_restarts (not a node refusing
  // the creation for want of a lease).
  void Restart(Entry& e, const std::string& cause, Context& cx, bool schedule = true, bool count = true);
  void Die(Entry& e, const std::string& cause, Context& cx);
  void StopWorker(Entry& e, const std::string& cause, Context& cx);
  void Publish(const Entry& e, Context& cx);

  const std::map<NodeId, NodeView>* nodes_;
  Addr self_;
  std::map<uint64_t, Entry> actors_;
  std::map<std::pair<JobId, std::string>, uint64_t> names_;  // live named actors
  // Subscribers to actors not registered yet (a handle can reach a process
  // before its creator registers the actor); handed over on registration.
  std::map<uint64_t, std::set<Addr>> early_subscribers_;
  std::set<uint64_t> dirty_;
  std::set<uint64_t> early_dirty_;
};

}  // namespace dray
