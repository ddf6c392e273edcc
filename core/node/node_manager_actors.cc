// The node manager's share of actors (docs/actors.md): it places creation
// tasks like any task, keeps the worker of a created actor as the actor's
// (holding no resources unless the actor asked for some), hands each call to
// the actor's worker once its arguments are local, stops actor workers when
// the control service says so, and runs actors only while it holds a lease.
#include <algorithm>

#include "core/common/probe.h"
#include "core/node/node_manager.h"

namespace dray {

void NodeManager::RouteActorCall(TaskSpec spec, Context& cx) {
  if (OwnerDead(spec.owner)) {
    // A call from a process declared dead (held by a partition until now):
    // its caller is gone, and its task was retried elsewhere.
    DRAY_PROBE("node.actor_call_from_dead_caller");
    return;
  }
  auto a = actors_.find(spec.actor);
  if (a == actors_.end() || a->second.incarnation != spec.incarnation || !HasLease(cx)) {
    // The incarnation it was meant for is not (or no longer) here. The
    // caller learns from the control service what became of the actor.
    DRAY_PROBE("node.actor_call_unavailable");
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ActorUnavailableError",
                                   "actor call '" + spec.name + "': incarnation " + std::to_string(spec.incarnation) +
                                       " of its actor is not running on node " + std::to_string(cfg_.node)});
    return;
  }
  Queued q;
  std::vector<std::pair<ObjectId, std::pair<Addr, std::vector<NodeId>>>> pulls;
  for (const auto& arg : spec.args) {
    if (arg.kind == TaskArg::kRef && arg.in_store && !InMemory(arg.ref.id) &&
        std::find(q.missing.begin(), q.missing.end(), arg.ref.id) == q.missing.end()) {
      q.missing.push_back(arg.ref.id);
      pulls.push_back({arg.ref.id, {arg.ref.owner, arg.locations}});
    }
  }
  if (q.missing.empty()) {
    DeliverActorCall(std::move(spec), cx);
    return;
  }
  // Counted as queued (no resources) until its arguments are here. An older
  // attempt of it still waiting here is superseded.
  if (!SupersedeWaiting(spec, cx)) return;
  ++queued_count_;
  WantArgs(spec);
  TaskId id = spec.task;
  for (const auto& o : q.missing) arg_waiters_[o].push_back(id);
  q.spec = std::move(spec);
  waiting_args_.emplace(id, std::move(q));
  for (const auto& [oid, from] : pulls) EnsureLocal(oid, from.first, from.second, cx);
}

// The actor's worker runs calls in each caller's order (the worker's Owner
// orders them by sequence number); this node only fills in local arguments.
void NodeManager::DeliverActorCall(TaskSpec spec, Context& cx) {
  auto a = actors_.find(spec.actor);
  if (a == actors_.end() || a->second.incarnation != spec.incarnation) {
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ActorUnavailableError",
                                   "actor call '" + spec.name + "': its actor stopped on node " +
                                       std::to_string(cfg_.node) + " while the call's arguments were fetched"});
    return;
  }
  if (!ArgsToFetchAgain(spec).empty()) {
    // An argument was spilled or evicted since it arrived: the call waits for
    // its restore or a new pull.
    DRAY_PROBE("node.store.arg_restore_before_dispatch");
    RouteActorCall(std::move(spec), cx);
    return;
  }
  for (auto& arg : spec.args) {
    if (arg.kind != TaskArg::kRef || !arg.in_store) continue;
    auto it = store_.find(arg.ref.id);
    if (it == store_.end()) {
      // Freed after it arrived (its owner died): the caller resolves it again.
      cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ObjectLostError",
                                     "actor call '" + spec.name + "': its argument " + arg.ref.id.Str() +
                                         " was freed on node " + std::to_string(cfg_.node) + " before it ran"});
      return;
    }
    arg.value = it->second.value;
    arg.in_store = false;
    arg.resolved = true;
  }
  cx.Send(a->second.worker, ExecuteTask{std::move(spec)});
}

// The worker ran the constructor (its TaskFinished came first on the same
// channel). A constructed actor keeps its worker; its lease keeps only the
// resources the actor asked for (by default none: 1 CPU to place, 0 to run,
// as in Ray). Then the control service hears it, so that no call can reach
// this node before it knows the actor.
void NodeManager::OnCreationDone(const Addr& worker, const TaskDone& m, Context& cx) {
  auto l = leases_.find(worker);
  if (l == leases_.end() || l->second.spec.task != m.task || l->second.spec.actor_kind != kActorCreation) return;
  Lease& lease = l->second;
  const TaskSpec& spec = lease.spec;
  bool failed = !m.returns.empty() && m.returns[0].value.is_error;
  Addr owner = spec.owner;
  TaskDone done = m;
  auto hosted = actors_.find(spec.actor);
  if (!failed && !HasLease(cx)) {
    // The lease ran out while the constructor ran: this node may not host it.
    TaskFailed refused{m.task, m.attempt, "ActorUnavailableError",
                       "node " + std::to_string(cfg_.node) + " lost its lease while creating the actor"};
    StopActorWorker(worker, "no lease", cx);
    cx.Send(owner, std::move(refused));
    return;
  }
  if (!failed && hosted != actors_.end() && hosted->second.incarnation > spec.incarnation) {
    // A newer incarnation is here already: this one is stale (the control
    // service says so too when it hears of it).
    StopActorWorker(worker, "a newer incarnation replaced it", cx);
  } else if (failed) {
    StopActorWorker(worker, "its constructor threw", cx);
  } else {
    if (!spec.actor_holds_resources) {
      available_.Add(lease.held);
      lease.held = ResourceSet{};
      lease.demand = ResourceSet{};
    }
    actors_[spec.actor] = Hosted{worker, spec.incarnation};
    MarkDirty(cx);
    TryDispatch(cx);
  }
  cx.Send(owner, std::move(done));
}

void NodeManager::OnStopActor(const StopActor& m, Context& cx) {
  auto a = actors_.find(m.actor);
  if (a != actors_.end() && a->second.incarnation == m.incarnation) {
    StopActorWorker(a->second.worker, m.cause, cx);
    return;
  }
  // Still being created (a kill overtook its creation): stop that worker.
  for (const auto& [w, id] : actor_workers_) {
    auto l = leases_.find(w);
    if (id == m.actor && l != leases_.end() && l->second.spec.incarnation == m.incarnation) {
      StopActorWorker(w, m.cause, cx);
      return;
    }
  }
}

// Stops an actor's worker: its lease ends, and its death is published (the
// objects it owned are gone with it).
void NodeManager::StopActorWorker(const Addr& worker, const std::string& cause, Context& cx) {
  auto a = actor_workers_.find(worker);
  if (a == actor_workers_.end()) return;
  DRAY_PROBE("node.actor_stopped");
  uint64_t actor = a->second;
  auto h = actors_.find(actor);
  bool was_hosted = h != actors_.end() && h->second.worker == worker;
  if (was_hosted) actors_.erase(h);
  actor_workers_.erase(a);
  if (was_hosted) {
    // Calls waiting here for their arguments will not run: their callers
    // hear so (and learn from the control service what became of the actor).
    std::vector<TaskId> calls;
    for (const auto& [id, q] : waiting_args_)
      if (q.spec.actor_kind == kActorCall && q.spec.actor == actor) calls.push_back(id);
    std::sort(calls.begin(), calls.end());
    for (const TaskId& id : calls) {
      const TaskSpec spec = waiting_args_.at(id).spec;
      DropWaiting(id);
      cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ActorUnavailableError",
                                     "actor call '" + spec.name + "': its actor stopped on node " +
                                         std::to_string(cfg_.node) + ": " + cause});
    }
  }
  auto l = leases_.find(worker);
  if (l != leases_.end()) {
    available_.Add(l->second.held);
    UnpinAll(l->second);
    leases_.erase(l);
  }
  unblock_queue_.erase(std::remove(unblock_queue_.begin(), unblock_queue_.end(), worker), unblock_queue_.end());
  workers_.erase(worker);
  idle_workers_.erase(worker);
  finished_.erase(worker);
  cx.Emit(EfStopWorker{worker});
  cx.Send(cfg_.gcs, Deaths{{worker}, {}, "actor worker stopped: " + cause});
  MarkDirty(cx);
  TryDispatch(cx);
}

void NodeManager::OnLeaseTimer(uint64_t id, Context& cx) {
  if (id == kLeaseTimer) {
    uint64_t nonce = next_lease_nonce_++;
    lease_asks_[nonce] = cx.now();
    // Asks older than a lease can no longer extend it.
    while (!lease_asks_.empty() && lease_asks_.begin()->second + cfg_.lease_ns <= cx.now())
      lease_asks_.erase(lease_asks_.begin());
    cx.Send(cfg_.gcs, RenewLease{cfg_.node, nonce});
    cx.SetTimer(kLeaseTimer, cx.now() + cfg_.lease_renew_ns);
    return;
  }
  if (HasLease(cx) || actor_workers_.empty()) return;
  // Cut off long enough that the control service may declare this node dead
  // and start its actors elsewhere: stop them here first, so that at most
  // one incarnation of an actor runs.
  DRAY_PROBE("node.lease_expired_actors_stopped");
  std::vector<Addr> workers;
  for (const auto& [w, id] : actor_workers_) workers.push_back(w);
  for (const Addr& w : workers) {
    auto l = leases_.find(w);
    if (l != leases_.end() && l->second.spec.actor_kind == kActorCreation && !actors_.count(l->second.spec.actor))
      cx.Send(l->second.spec.owner, TaskFailed{l->second.spec.task, l->second.spec.attempt, "ActorUnavailableError",
                                               "node " + std::to_string(cfg_.node) + " lost its lease"});
    StopActorWorker(w, "node " + std::to_string(cfg_.node) + " lost its lease (cut off from the control service)", cx);
  }
}

}  // namespace dray
