#include "core/node/node_manager.h"

#include "core/common/probe.h"

#include <cstring>

#include <algorithm>

namespace dray {

namespace {
constexpr uint32_t kMaxSpills = 8;
}

NodeManager::NodeManager(NodeManagerConfig cfg) : cfg_(std::move(cfg)), available_(cfg_.total) {}

std::vector<ObjectId> NodeManager::StoredIds() const {
  std::vector<ObjectId> v;
  for (const auto& [id, e] : store_) v.push_back(id);
  return v;
}

void NodeManager::Step(const Input& in, Context& cx) {
  if (fenced_) return;  // declared dead: a new node takes its place, this one does nothing
  if (const auto* t = std::get_if<InTimer>(&in); t && (t->id == kLeaseTimer || t->id == kLeaseExpiryTimer)) {
    OnLeaseTimer(t->id, cx);
    return;
  }
  if (const auto* t = std::get_if<InTimer>(&in); t && t->id == kWatchdogTimer) {
    // Cut off from the control service for a while (a partition that healed,
    // say)? Say so unasked: a node it declared dead is told, and fences itself.
    if (cx.now() - last_ping_ >= 3 * cfg_.watchdog_ns) cx.Send(cfg_.gcs, HealthCheckAck{cfg_.node, 0});
    cx.SetTimer(kWatchdogTimer, cx.now() + cfg_.watchdog_ns);
    return;
  }
  if (const auto* d = std::get_if<InDeliver>(&in)) {
    OnDeliver(d->from, d->msg, cx);
  } else if (const auto* t = std::get_if<InTimer>(&in)) {
    if (t->id == kReportTimer) {
      report_armed_ = false;
      SendReport(cx);
    } else if (t->id >= kPullRetryBase) {
      auto it = retry_timers_.find(t->id);
      if (it == retry_timers_.end()) return;
      ObjectId id = it->second;
      retry_timers_.erase(it);
      auto p = pulls_.find(id);
      if (p == pulls_.end()) return;
      p->second.waiting_retry = false;
      RequestChunks(id, p->second, cx);
    } else if (t->id >= kIdleTimerBase) {
      Addr w{cfg_.node, static_cast<uint32_t>(t->id - kIdleTimerBase)};
      auto it = workers_.find(w);
      if (it == workers_.end() || !it->second.idle || it->second.owns_objects) return;
      if (cx.now() - it->second.idle_since < cfg_.idle_worker_ns) return;
      // Keep as many idle workers as CPUs; retire the rest.
      int64_t cpus = cfg_.total.Get("CPU") / kResourceUnit;
      if (static_cast<int64_t>(workers_.size()) <= std::max<int64_t>(cpus, 1)) return;
      workers_.erase(it);
      idle_workers_.erase(w);
      finished_.erase(w);
      cx.Emit(EfStopWorker{w});
    }
  } else if (const auto* c = std::get_if<InCommand>(&in)) {
    if (std::holds_alternative<CmdStart>(c->cmd)) {
      cx.Send(cfg_.gcs, RegisterNode{cfg_.node, addr(), cfg_.total, cfg_.store_capacity_bytes});
      last_ping_ = cx.now();
      cx.SetTimer(kWatchdogTimer, cx.now() + cfg_.watchdog_ns);
      lease_asks_[0] = cx.now();  // the registration asks for the first lease
      cx.SetTimer(kLeaseTimer, cx.now() + cfg_.lease_renew_ns);
    }
  }
}

void NodeManager::OnDeliver(const Addr& from, const Message& msg, Context& cx) {
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, ClusterView>) {
          // The view replaces ours (except our own entry): a node missing
          // from it is gone.
          std::optional<NodeView> self;
          if (auto it = view_.find(cfg_.node); it != view_.end()) self = it->second;
          view_.clear();
          if (self) view_[cfg_.node] = *self;
          for (const auto& v : m.nodes)
            if (v.node != cfg_.node && dead_nodes_.count(v.node) == 0) view_[v.node] = v;
          // A view may make a waiting infeasible task placeable.
          if (!infeasible_.empty()) {
            auto waiting = std::move(infeasible_);
            infeasible_.clear();
            for (auto& s : waiting) OnSubmit(std::move(s), cx);
            MarkDirty(cx);
          }
          if (queued_count_ > 0) TryDispatch(cx);
        } else if constexpr (std::is_same_v<M, SubmitTask>) {
          if (dead_nodes_.count(from.node)) {
            // Spilled by a node declared dead meanwhile (held by a cut until
            // now): not run here, since an actor's creation may have been
            // restarted elsewhere already. Its owner may think it is here
            // (the spill told it so): it hears otherwise, and retries it.
            DRAY_PROBE("node.submit_from_dead_node_dropped");
            cx.Send(m.spec.owner, TaskFailed{m.spec.task, m.spec.attempt, "WorkerCrashedError",
                                             "task '" + m.spec.name + "' was forwarded by node " +
                                                 std::to_string(from.node) + ", which had been declared dead: " +
                                                 dead_nodes_.at(from.node)});
            return;
          }
          OnSubmit(m.spec, cx);
        } else if constexpr (std::is_same_v<M, RegisterWorker>) {
          if (m.worker.node != cfg_.node) return;
          auto known = workers_.find(m.worker);
          if (known == workers_.end() && m.worker.proc >= kFirstUserProc + 64 && m.worker.proc < next_proc_) {
            // A worker this node started and has forgotten since: its death
            // was reported (its process stopped or crashed) before its
            // registration, already on its way, arrived. It never gets a
            // task: the task would be lost with it.
            DRAY_PROBE("node.late_registration_dropped");
            cx.Emit(EfStopWorker{m.worker});
            return;
          }
          if (known != workers_.end() && known->second.registered) return;  // told twice
          auto& w = workers_[m.worker];
          w.registered = true;
          w.idle = true;
          idle_workers_.insert(m.worker);
          w.idle_since = cx.now();
          cx.SetTimer(kIdleTimerBase + m.worker.proc, cx.now() + cfg_.idle_worker_ns);
          if (starting_workers_ > 0) --starting_workers_;
          // A new worker hears of the deaths published before it started.
          for (const auto& [a, cause] : dead_owners_) cx.Send(m.worker, Deaths{{a}, {}, cause});
          for (const auto& [n, cause] : dead_nodes_) cx.Send(m.worker, Deaths{{}, {n}, cause});
          TryDispatch(cx);
        } else if constexpr (std::is_same_v<M, WorkerOwnership>) {
          auto it = workers_.find(from);
          if (it == workers_.end()) return;
          it->second.owns_objects = m.owns_objects;
          if (!m.owns_objects && it->second.idle) {
            it->second.idle_since = cx.now();
            cx.SetTimer(kIdleTimerBase + from.proc, cx.now() + cfg_.idle_worker_ns);
          }
        } else if constexpr (std::is_same_v<M, TaskFinished>) {
          OnTaskFinished(from, m, cx);
        } else if constexpr (std::is_same_v<M, TaskDone>) {
          OnCreationDone(from, m, cx);
        } else if constexpr (std::is_same_v<M, StopActor>) {
          if (from == cfg_.gcs) OnStopActor(m, cx);
        } else if constexpr (std::is_same_v<M, LeaseGranted>) {
          auto it = lease_asks_.find(m.nonce);
          if (from != cfg_.gcs || it == lease_asks_.end()) return;
          lease_until_ = std::max(lease_until_, it->second + cfg_.lease_ns);
          lease_asks_.erase(lease_asks_.begin(), std::next(it));
          cx.SetTimer(kLeaseExpiryTimer, lease_until_);
        } else if constexpr (std::is_same_v<M, WorkerDied>) {
          OnWorkerDied(m, cx);
        } else if constexpr (std::is_same_v<M, Deaths>) {
          OnDeaths(from, m, cx);
        } else if constexpr (std::is_same_v<M, HealthCheck>) {
          if (from == cfg_.gcs) {
            last_ping_ = cx.now();
            cx.Send(cfg_.gcs, HealthCheckAck{cfg_.node, m.seq});
          }
        } else if constexpr (std::is_same_v<M, WorkerBlocked>) {
          auto it = leases_.find(from);
          if (it == leases_.end() || it->second.spec.task != m.task || it->second.blocked) return;
          Lease& l = it->second;
          l.blocked = true;
          ResourceSet cpu = CpuPart(l.held);
          l.held.Subtract(cpu);
          available_.Add(cpu);
          MarkDirty(cx);
          TryDispatch(cx);
        } else if constexpr (std::is_same_v<M, WorkerUnblocked>) {
          auto it = leases_.find(from);
          if (it == leases_.end() || it->second.spec.task != m.task || !it->second.blocked ||
              it->second.unblock_requested)
            return;
          it->second.unblock_requested = true;
          unblock_queue_.push_back(from);
          TryDispatch(cx);
        } else if constexpr (std::is_same_v<M, PutObject>) {
          StoreObject(m.object.id, m.object.value, m.object.owner, /*primary=*/true, cx);
        } else if constexpr (std::is_same_v<M, FetchObject>) {
          auto it = store_.find(m.id);
          if (it != store_.end() && it->second.in_memory) {
            Touch(m.id, it->second);
            cx.Send(from, ObjectReady{m.id, m.request, true, it->second.value, ""});
            return;
          }
          fetchers_[m.id].push_back({from, m.request});
          EnsureLocal(m.id, m.owner, m.locations, cx);  // a spilled copy: restored
        } else if constexpr (std::is_same_v<M, PullObject>) {
          OnPullRequest(from, m, cx);
        } else if constexpr (std::is_same_v<M, ObjectChunk>) {
          OnChunk(m, cx);
        } else if constexpr (std::is_same_v<M, FreeObjects>) {
          for (const auto& id : m.ids) {
            auto it = store_.find(id);
            if (it == store_.end()) continue;
            // Only an owner frees its hold: another attempt's process may own
            // the same id here too, and keeps the entry.
            auto& owners = it->second.owners;
            auto me = std::find(owners.begin(), owners.end(), from);
            if (me == owners.end()) continue;
            owners.erase(me);
            if (!owners.empty()) continue;
            bool restoring = it->second.restoring;
            DropEntry(it, cx);
            // Whoever waited for its restore hears that it is gone.
            if (restoring) PullFailed(id, "object " + id.Str() + " was freed while it was restored", cx);
          }
        } else if constexpr (std::is_same_v<M, ObjectRestored>) {
          if (from == addr()) OnRestored(m, cx);
        }
        // Other messages are not for a node manager: ignored.
      },
      msg);
}

// ---- placement ----

ResourceSet NodeManager::CpuPart(const ResourceSet& r) const {
  ResourceSet c;
  c.Set("CPU", r.Get("CPU"));
  return c;
}

double NodeManager::Utilization(const ResourceSet& total, const ResourceSet& avail) const {
  double u = 0;
  for (const auto& [name, amount] : total.items()) {
    if (amount <= 0) continue;
    u = std::max(u, static_cast<double>(amount - avail.Get(name)) / static_cast<double>(amount));
  }
  return u;
}

// Hybrid policy: stay local while the node is under half used; then the
// least used node where the task fits now; then wait where it fits at all.
std::optional<NodeId> NodeManager::ChooseNode(const TaskSpec& spec) const {
  const ResourceSet& need = spec.resources;
  // The local node's free resources, net of tasks already queued here.
  ResourceSet local_free;
  for (const auto& [name, amount] : available_.items())
    local_free.Set(name, std::max<int64_t>(0, amount - queued_demand_.Get(name)));
  bool local_feasible = cfg_.total.Contains(need);
  if (local_feasible && local_free.Contains(need) && Utilization(cfg_.total, local_free) < 0.5)
    return cfg_.node;
  std::optional<NodeId> best;
  double best_u = 2.0;
  auto consider = [&](NodeId n, const ResourceSet& total, const ResourceSet& free) {
    if (!free.Contains(need)) return;
    double u = Utilization(total, free);
    if (u < best_u) { best_u = u; best = n; }
  };
  if (local_feasible) consider(cfg_.node, cfg_.total, local_free);
  for (const auto& [n, v] : view_)
    if (n != cfg_.node) consider(n, v.total, v.available);
  if (best) return best;
  if (local_feasible) return cfg_.node;
  // Fits nowhere now: the least used node where it fits at all.
  for (const auto& [n, v] : view_) {
    if (n == cfg_.node || !v.total.Contains(need)) continue;
    double u = Utilization(v.total, v.available);
    if (!best || u < best_u) { best_u = u; best = n; }
  }
  return best;
}

void NodeManager::OnSubmit(TaskSpec spec, Context& cx) {
  if (spec.actor_kind == kActorCall) {
    RouteActorCall(std::move(spec), cx);
    return;
  }
  if (spec.actor_kind == kActorCreation && !HasLease(cx)) {
    // Cut off from the control service: it may be declared dead any time.
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ActorUnavailableError",
                                   "node " + std::to_string(cfg_.node) + " holds no lease to run actors"});
    return;
  }
  // A spilled task is accepted wherever it fits at all, so it cannot bounce.
  if (spec.spill_count > 0 && cfg_.total.Contains(spec.resources)) {
    Enqueue(std::move(spec), cx);
    return;
  }
  std::optional<NodeId> target = ChooseNode(spec);
  if (!target || (spec.spill_count >= kMaxSpills && *target != cfg_.node)) {
    infeasible_.push_back(std::move(spec));  // waits for a node that fits
    MarkDirty(cx);
    return;
  }
  if (*target == cfg_.node) {
    Enqueue(std::move(spec), cx);
    return;
  }
  // Spill: charge the target in our view until its next report corrects it.
  auto& v = view_[*target];
  if (v.available.Contains(spec.resources)) v.available.Subtract(spec.resources);
  Forward(std::move(spec), *target, cx);
}

// Sends a task on to another node, and tells its owner where it went (so
// that the owner retries it if that node dies).
void NodeManager::Forward(TaskSpec spec, NodeId target, Context& cx) {
  ++spec.spill_count;
  cx.Send(spec.owner, TaskPlaced{spec.task, spec.attempt, target, spec.spill_count});
  cx.Send(NodeAddr(target), SubmitTask{std::move(spec)});
}

bool NodeManager::SupersedeWaiting(const TaskSpec& spec, Context& cx) {
  auto it = waiting_args_.find(spec.task);
  if (it == waiting_args_.end()) return true;
  if (const Addr old = it->second.spec.owner; old != spec.owner) {
    // The same task id from another process: two attempts of its parent ran
    // in two processes (ids derive from the parent), and the parent was
    // retried because the older one's process died, whether this node heard
    // of it yet or not (recovery seed 843). Attempt numbers of two owners do
    // not compare: the newer submission stays, and a live older owner hears
    // that its task is gone, so nothing waits for it in silence.
    DRAY_PROBE("node.waiting_task_of_another_owner");
    TaskSpec dropped = it->second.spec;
    DropWaiting(spec.task);
    if (!OwnerDead(old))
      cx.Send(old, TaskFailed{dropped.task, dropped.attempt, "WorkerCrashedError",
                              "task '" + dropped.name + "' (attempt " + std::to_string(dropped.attempt + 1) +
                                  ") was dropped on node " + std::to_string(cfg_.node) +
                                  ": the same task came from another process " + spec.owner.Str()});
    return true;
  }
  if (it->second.spec.attempt > spec.attempt) {
    DRAY_PROBE("node.stale_attempt_dropped");  // held by a partition, say, while a retry came
    return false;
  }
  DRAY_PROBE("node.waiting_attempt_superseded");
  DropWaiting(spec.task);
  return true;
}

bool NodeManager::DropWaiting(const TaskId& id) {
  auto it = waiting_args_.find(id);
  if (it == waiting_args_.end()) return false;
  for (const auto& o : it->second.missing) {
    auto aw = arg_waiters_.find(o);
    if (aw == arg_waiters_.end()) continue;
    auto& v = aw->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) arg_waiters_.erase(aw);
  }
  queued_demand_.Subtract(it->second.spec.resources);
  DRAY_ASSERT(queued_count_ > 0);
  --queued_count_;
  UnwantArgs(it->second.spec);
  waiting_args_.erase(it);
  return true;
}

void NodeManager::Enqueue(TaskSpec spec, Context& cx) {
  // Of two attempts waiting here for their arguments, the newer stays.
  if (!SupersedeWaiting(spec, cx)) return;
  Queued q;
  std::vector<std::pair<ObjectId, std::pair<Addr, std::vector<NodeId>>>> pulls;
  for (const auto& a : spec.args) {
    if (a.kind == TaskArg::kRef && a.in_store && !InMemory(a.ref.id) &&
        std::find(q.missing.begin(), q.missing.end(), a.ref.id) == q.missing.end()) {
      q.missing.push_back(a.ref.id);  // pulled, or restored if spilled here
      pulls.push_back({a.ref.id, {a.ref.owner, a.locations}});
    }
  }
  queued_demand_.Add(spec.resources);
  ++queued_count_;
  WantArgs(spec);  // kept in memory while it is queued here
  if (q.missing.empty()) {
    ready_[spec.resources.items()].push_back(std::move(spec));
  } else {
    TaskId id = spec.task;
    for (const auto& o : q.missing) arg_waiters_[o].push_back(id);
    q.spec = std::move(spec);
    waiting_args_.emplace(id, std::move(q));
  }
  // After the task waits for them: a pull that fails at once hands it back.
  for (const auto& [id, from] : pulls) EnsureLocal(id, from.first, from.second, cx);
  MarkDirty(cx);
  TryDispatch(cx);
}

void NodeManager::TryDispatch(Context& cx) {
  // Workers that were blocked in Get come first: their tasks already started.
  while (!unblock_queue_.empty()) {
    auto it = leases_.find(unblock_queue_.front());
    if (it == leases_.end()) { unblock_queue_.pop_front(); continue; }
    Lease& l = it->second;
    ResourceSet cpu = CpuPart(l.demand);
    if (!available_.Contains(cpu)) break;
    available_.Subtract(cpu);
    l.held.Add(cpu);
    l.blocked = false;
    l.unblock_requested = false;
    cx.Send(l.worker, ResumeGrant{l.spec.task});
    unblock_queue_.pop_front();
    MarkDirty(cx);
  }
  if (!unblock_queue_.empty()) return;
  uint32_t wanted_workers = 0;
  // Resources of tasks that wait only for a worker to start: they must not
  // make more workers start than can run at once.
  ResourceSet spare = available_;
  for (auto cls = ready_.begin(); cls != ready_.end();) {
    auto& q = cls->second;
    size_t waiting_for_worker = 0;
    while (waiting_for_worker < q.size()) {
      const ResourceSet& need = q[waiting_for_worker].resources;
      if (!spare.Contains(need)) break;
      spare.Subtract(need);
      if (idle_workers_.empty() || waiting_for_worker > 0) {
        ++waiting_for_worker;
        ++wanted_workers;
        continue;
      }
      Addr worker = *idle_workers_.begin();
      ResourceSet need_copy = need;
      TaskSpec spec = std::move(q.front());
      q.pop_front();
      if (!Dispatch(std::move(spec), worker, cx)) {
        spare.Add(need_copy);  // it did not run: its resources are free again
        MarkDirty(cx);
      }
    }
    // What cannot run here now goes where the view shows room (Ray re-places
    // queued tasks too): bounded by the free slots the view shows elsewhere.
    while (q.size() > waiting_for_worker && !spare.Contains(q.back().resources) && SpillOne(q.back(), cx))
      q.pop_back();
    if (q.empty()) cls = ready_.erase(cls); else ++cls;
  }
  while (starting_workers_ < wanted_workers) {
    Addr w{cfg_.node, next_proc_++};
    workers_[w] = Worker{};
    ++starting_workers_;
    cx.Emit(EfStartWorker{w});
  }
}

bool NodeManager::SpillOne(TaskSpec& spec, Context& cx) {
  if (spec.spill_count >= kMaxSpills) return false;
  const ResourceSet& need = spec.resources;
  std::optional<NodeId> best;
  double best_u = 2.0;
  for (const auto& [n, v] : view_) {
    if (n == cfg_.node || !v.available.Contains(need)) continue;
    double u = Utilization(v.total, v.available);
    if (u < best_u) { best_u = u; best = n; }
  }
  if (!best) return false;
  view_[*best].available.Subtract(need);
  queued_demand_.Subtract(need);
  DRAY_ASSERT(queued_count_ > 0);
  --queued_count_;
  UnwantArgs(spec);
  Forward(std::move(spec), *best, cx);
  MarkDirty(cx);
  return true;
}

bool NodeManager::Dispatch(TaskSpec spec, Addr worker, Context& cx) {
  if (auto gone = ArgsToFetchAgain(spec); !gone.empty()) {
    // An argument left memory while the task waited for a worker (spilled,
    // or a secondary copy evicted): the task waits (still queued) for its
    // restore or a new pull, then comes back to the ready queue.
    DRAY_PROBE("node.store.arg_restore_before_dispatch");
    if (!SupersedeWaiting(spec, cx)) {
      queued_demand_.Subtract(spec.resources);
      DRAY_ASSERT(queued_count_ > 0);
      --queued_count_;
      UnwantArgs(spec);
      return false;
    }
    TaskId id = spec.task;
    for (const auto& o : gone) arg_waiters_[o].push_back(id);
    Queued q;
    q.missing = gone;
    q.spec = std::move(spec);
    auto [slot, fresh] = waiting_args_.emplace(id, std::move(q));
    DRAY_ASSERT(fresh);
    for (const auto& a : slot->second.spec.args)
      if (a.kind == TaskArg::kRef && a.in_store &&
          std::find(gone.begin(), gone.end(), a.ref.id) != gone.end() && !InMemory(a.ref.id))
        EnsureLocal(a.ref.id, a.ref.owner, a.locations, cx);
    return false;
  }
  queued_demand_.Subtract(spec.resources);
  DRAY_ASSERT(queued_count_ > 0);
  --queued_count_;
  UnwantArgs(spec);  // pinned by its lease instead, if it runs
  if (spec.actor_kind == kActorCreation && !HasLease(cx)) {
    // The lease ran out while it was queued: no new incarnation here.
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ActorUnavailableError",
                                   "node " + std::to_string(cfg_.node) + " lost its lease before creating the actor"});
    return false;
  }
  for (const auto& a : spec.args)
    if (a.kind == TaskArg::kRef && a.in_store && !store_.count(a.ref.id)) {
      // Its argument was freed after it arrived (its owner died): the owner
      // resolves it again.
      cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ObjectLostError",
                                     "task '" + spec.name + "': its argument " + a.ref.id.Str() +
                                         " was freed on node " + std::to_string(cfg_.node) + " before it ran"});
      return false;
    }
  Lease l;
  for (auto& a : spec.args) {
    if (a.kind != TaskArg::kRef || !a.in_store) continue;
    auto it = store_.find(a.ref.id);
    DRAY_ASSERT(it != store_.end() && it->second.in_memory, "dispatching a task whose argument is not in memory");
    a.value = it->second.value;
    a.in_store = false;  // the worker reads it from here (shared memory on a real node)
    a.resolved = true;
    Pin(a.ref.id, l);  // not evicted or spilled while the task runs
  }
  available_.Subtract(spec.resources);
  Worker& w = workers_[worker];
  DRAY_ASSERT(w.registered && w.idle, "dispatching to a busy worker");
  w.idle = false;
  idle_workers_.erase(worker);
  if (spec.actor_kind == kActorCreation) actor_workers_[worker] = spec.actor;
  l.worker = worker;
  l.held = spec.resources;
  l.demand = spec.resources;
  l.spec = spec;

  cx.Send(worker, ExecuteTask{spec});
  auto [slot, fresh] = leases_.emplace(worker, std::move(l));
  DRAY_ASSERT(fresh && slot->second.worker == worker, "a worker leased twice");
  MarkDirty(cx);
  return true;
}

void NodeManager::OnTaskFinished(const Addr& worker, const TaskFinished& m, Context& cx) {
  for (const auto& s : m.stored) StoreObject(s.id, s.value, s.owner, /*primary=*/true, cx);
  auto it = leases_.find(worker);
  if (it != leases_.end() && it->second.spec.task == m.task) UnpinAll(it->second);  // its arguments
  if (actor_workers_.count(worker)) return;  // an actor's worker stays the actor's
  if (it != leases_.end() && it->second.spec.task == m.task) {
    const TaskSpec& spec = it->second.spec;
    auto& done = finished_[worker];
    done.push_back(Finished{spec.owner, spec.task, spec.attempt, spec.name});
    if (done.size() > kFinishedKept) done.pop_front();
    available_.Add(it->second.held);
    leases_.erase(it);
  }
  auto w = workers_.find(worker);
  if (w != workers_.end()) {
    w->second.owns_objects = m.owns_objects;  // an owner is never retired
    w->second.idle = true;
    idle_workers_.insert(worker);
    w->second.idle_since = cx.now();
    cx.SetTimer(kIdleTimerBase + worker.proc, cx.now() + cfg_.idle_worker_ns);
  }
  MarkDirty(cx);
  TryDispatch(cx);
}

// A worker process is gone. Its lease ends: the resources come back and the
// task's owner hears that this attempt failed (it retries or reports
// WorkerCrashedError). The objects the worker owned are not this node's to
// save: their borrowers learn from the owner's absence.
void NodeManager::OnWorkerDied(const WorkerDied& m, Context& cx) {
  auto w = workers_.find(m.worker);
  if (w == workers_.end() || m.worker.node != cfg_.node) return;  // unknown, or told twice
  if (!w->second.registered && starting_workers_ > 0) --starting_workers_;
  workers_.erase(w);
  idle_workers_.erase(m.worker);
  cx.CancelTimer(kIdleTimerBase + m.worker.proc);
  if (auto a = actor_workers_.find(m.worker); a != actor_workers_.end()) {
    DRAY_PROBE("node.actor_worker_died");
    auto h = actors_.find(a->second);
    if (h != actors_.end() && h->second.worker == m.worker) actors_.erase(h);
    actor_workers_.erase(a);
  }
  if (auto f = finished_.find(m.worker); f != finished_.end()) {
    // Its last results may not have left it (a result waits while the
    // worker's borrow registrations are unacknowledged, or in a lost frame):
    // their owners hear of the death, and ignore it for results they have.
    for (const Finished& d : f->second)
      cx.Send(d.owner, TaskFailed{d.task, d.attempt, "WorkerCrashedError",
                                  "the worker " + m.worker.Str() + " died after running task '" + d.name +
                                      "' (attempt " + std::to_string(d.attempt + 1) +
                                      "), before its result was known to have left it: " + m.cause});
    finished_.erase(f);
  }
  auto l = leases_.find(m.worker);
  if (l != leases_.end()) {
    const TaskSpec& spec = l->second.spec;
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "WorkerCrashedError",
                                   "the worker " + m.worker.Str() + " running task '" + spec.name + "' (attempt " +
                                       std::to_string(spec.attempt + 1) + ") died: " + m.cause});
    available_.Add(l->second.held);
    UnpinAll(l->second);
    leases_.erase(l);
  }
  cx.Send(cfg_.gcs, Deaths{{m.worker}, {}, m.cause});
  MarkDirty(cx);
  TryDispatch(cx);
}

// Published deaths (from the control service): what the dead owned is gone.
// Its stored objects are freed, its queued tasks dropped (nobody waits for
// them), and the local workers hear of it (their borrowed refs fail).
void NodeManager::OnDeaths(const Addr& from, const Deaths& m, Context& cx) {
  if (from != cfg_.gcs) return;  // only the control service publishes
  if (std::find(m.nodes.begin(), m.nodes.end(), cfg_.node) != m.nodes.end()) {
    FenceSelf(m.cause, cx);
    return;
  }
  auto dead = [&](const Addr& a) {
    return std::find(m.procs.begin(), m.procs.end(), a) != m.procs.end() ||
           std::find(m.nodes.begin(), m.nodes.end(), a.node) != m.nodes.end();
  };
  for (const Addr& a : m.procs) dead_owners_.emplace(a, m.cause);
  for (NodeId n : m.nodes) dead_nodes_.emplace(n, m.cause);
  std::set<ObjectId> freed;
  std::vector<ObjectId> restoring;
  for (auto it = store_.begin(); it != store_.end();) {
    auto& owners = it->second.owners;
    owners.erase(std::remove_if(owners.begin(), owners.end(), dead), owners.end());
    if (owners.empty()) {
      DRAY_PROBE("node.store.dead_owner_freed");
      freed.insert(it->first);
      if (it->second.restoring) restoring.push_back(it->first);
      it = DropEntry(it, cx);
    } else {
      ++it;
    }
  }
  for (const ObjectId& id : restoring)
    PullFailed(id, "object " + id.Str() + ": its owner died (" + m.cause + ")", cx);
  for (auto cls = ready_.begin(); cls != ready_.end();) {
    auto& q = cls->second;
    for (auto t = q.begin(); t != q.end();) {
      // A queued task of a live owner whose stored argument just went with its
      // dead owner goes back to its owner (it resolves the argument again).
      std::string gone;
      for (const auto& a : t->args)
        if (a.kind == TaskArg::kRef && a.in_store && freed.count(a.ref.id)) gone = a.ref.id.Str();
      if (!gone.empty() && !dead(t->owner))
        cx.Send(t->owner, TaskFailed{t->task, t->attempt, "ObjectLostError",
                                     "task '" + t->name + "': its argument " + gone + " went with its dead owner"});
      if (dead(t->owner) || !gone.empty()) {
        queued_demand_.Subtract(t->resources);
        --queued_count_;
        UnwantArgs(*t);
        t = q.erase(t);
      } else {
        ++t;
      }
    }
    if (q.empty()) cls = ready_.erase(cls); else ++cls;
  }
  // So do its tasks that no node fits: nobody waits for them, and they are
  // no demand any more (`dray status`).
  infeasible_.erase(std::remove_if(infeasible_.begin(), infeasible_.end(),
                                   [&](const TaskSpec& t) { return dead(t.owner); }),
                    infeasible_.end());
  for (const auto& [addr, w] : workers_)
    if (w.registered && !dead(addr)) cx.Send(addr, m);
  for (NodeId n : m.nodes) {
    view_.erase(n);
    // Pulls from a dead node: its requests will never be answered.
    std::vector<ObjectId> ids;
    for (const auto& [id, p] : pulls_)
      if (std::find(p.locations.begin(), p.locations.end(), n) != p.locations.end()) ids.push_back(id);
    for (const ObjectId& id : ids) {
      Pull& p = pulls_.at(id);
      bool was_source = p.locations[p.source % p.locations.size()] == n;
      p.locations.erase(std::remove(p.locations.begin(), p.locations.end(), n), p.locations.end());
      if (p.locations.empty()) {
        PullFailed(id, "object " + id.Str() + ": every node that held it died (" + m.cause + ")", cx);
        continue;
      }
      if (!was_source) continue;
      DRAY_PROBE("node.pull.failover");
      p.source = 0;  // start over from another copy
      p.num_chunks = 0;
      p.next_chunk = 0;
      p.received = 0;
      p.chunks.clear();
      p.have.clear();
      if (!p.waiting_retry) RequestChunks(id, p, cx);
    }
  }
  MarkDirty(cx);
}

// A pull gave up: whoever fetched the object hears why, and each queued task
// that needed it goes back to its owner as a failed attempt (the owner
// resolves its arguments again: the object may be rebuilt, or be lost).
std::vector<TaskId> NodeManager::TakeArgWaiters(const ObjectId& id) {
  auto aw = arg_waiters_.find(id);
  if (aw == arg_waiters_.end()) return {};
  auto tasks = std::move(aw->second);
  arg_waiters_.erase(aw);
  return tasks;
}

void NodeManager::PullFailed(const ObjectId& id, const std::string& why, Context& cx) {
  DRAY_PROBE("node.pull.failed");
  pulls_.erase(id);
  FailFetchers(id, why, cx);
  auto tasks = TakeArgWaiters(id);
  if (tasks.empty()) return;
  for (const TaskId& tid : tasks) {
    auto it = waiting_args_.find(tid);
    if (it == waiting_args_.end()) continue;
    const TaskSpec& spec = it->second.spec;
    cx.Send(spec.owner, TaskFailed{spec.task, spec.attempt, "ObjectLostError",
                                   "task '" + spec.name + "' could not fetch its argument: " + why});
    queued_demand_.Subtract(spec.resources);
    DRAY_ASSERT(queued_count_ > 0);
    --queued_count_;
    UnwantArgs(spec);
    waiting_args_.erase(it);
  }
  MarkDirty(cx);
}

// This node was declared dead (it was cut off long enough): its tasks have
// been retried elsewhere and its objects are considered lost. So it stops
// every worker (they might still return results or serve objects), drops
// everything, and does nothing more; a node that should serve again joins as
// a new node.
void NodeManager::FenceSelf(const std::string& cause, Context& cx) {
  DRAY_PROBE("node.fenced_itself");
  fenced_ = true;
  for (const auto& [w, info] : workers_) cx.Emit(EfStopWorker{w});
  (void)cause;
  workers_.clear();
  idle_workers_.clear();
  leases_.clear();
  ready_.clear();
  waiting_args_.clear();
  arg_waiters_.clear();
  infeasible_.clear();
  pulls_.clear();
  fetchers_.clear();
  finished_.clear();
  actors_.clear();
  actor_workers_.clear();
  // Its spill files go too: nobody will read them.
  for (const auto& [id, e] : store_)
    if (e.spill_key != 0) cx.Emit(EfDeleteSpill{e.spill_key});
  store_.clear();
  lru_primary_.clear();
  lru_secondary_.clear();
  waiting_pulls_.clear();
  spilled_objects_ = 0;
  store_used_ = 0;
  queued_count_ = 0;
  wanted_.clear();
  queued_demand_ = ResourceSet{};
  available_ = cfg_.total;
  unblock_queue_.clear();
  starting_workers_ = 0;
}

bool NodeManager::OwnerDead(const Addr& owner) const {
  return dead_owners_.count(owner) != 0 || dead_nodes_.count(owner.node) != 0;
}

std::string NodeManager::Pending() const {
  std::string out;
  size_t ready = 0;
  for (const auto& [cls, q] : ready_) ready += q.size();
  if (ready) out += " ready=" + std::to_string(ready);
  if (!waiting_args_.empty()) out += " waiting_args=" + std::to_string(waiting_args_.size());
  if (!leases_.empty()) out += " leased=" + std::to_string(leases_.size());
  size_t shown = 0;
  for (const auto& [w, l] : leases_) {
    if (shown++ == 4) { out += " ..."; break; }
    out += " [" + w.Str() + ": " + l.spec.name + (actor_workers_.count(w) ? " (actor)" : "") +
           (l.blocked ? ", blocked" : "") + "]";
  }
  if (!infeasible_.empty()) out += " infeasible=" + std::to_string(infeasible_.size());
  for (const auto& [id, p] : pulls_) {
    out += " pull[" + id.Str() + " from";
    for (NodeId n : p.locations) out += " " + std::to_string(n);
    out += " chunks " + std::to_string(p.received) + "/" + std::to_string(p.num_chunks) + "]";
  }
  return out;
}

// ---- objects ----

void NodeManager::StoreObject(const ObjectId& id, ObjectValue value, Addr owner, bool primary, Context& cx) {
  if (OwnerDead(owner)) {
    // Its owner died: nobody can use or free it. Whoever waited for it hears so.
    if (fetchers_.count(id) || arg_waiters_.count(id))
      PullFailed(id, "object " + id.Str() + ": its owner " + owner.Str() + " died", cx);
    return;
  }
  auto it = store_.find(id);
  if (it == store_.end()) {
    uint64_t size = value.data.size();
    if (!MakeRoom(size, cx)) {
      // Nothing left to evict or spill (or bigger than the store): stored
      // anyway, as Ray's fallback allocation does, and counted.
      DRAY_PROBE("node.store.fallback");
      ++store_overflows_;
    }
    StoreEntry e;
    e.value = std::move(value);
    e.owners = {owner};
    e.primary = primary;
    e.size = size;
    e.seq = next_entry_seq_++;
    store_used_ += size;
    auto [slot, fresh] = store_.emplace(id, std::move(e));
    DRAY_ASSERT(fresh);
    if (Evictable(id, slot->second)) LruAdd(id, slot->second);
  } else {
    StoreEntry& e = it->second;
    if (std::find(e.owners.begin(), e.owners.end(), owner) == e.owners.end()) {
      // Another attempt of the task that made it (in another process) made
      // it again: that owner holds it too, whatever the first one does.
      DRAY_PROBE("node.store.owner_added");
      e.owners.push_back(owner);
    }
    if (primary && !e.primary) {
      // Another attempt's result makes a secondary copy the primary one.
      LruRemove(id, e);
      e.primary = true;
      if (Evictable(id, e)) LruAdd(id, e);
    }
    if (e.in_memory) {
      Touch(id, e);
    } else if (!e.restoring && value.data.size() == e.size) {
      // Spilled, and the same bytes came again: back in memory for free.
      if (!MakeRoom(e.size, cx)) {
        DRAY_PROBE("node.store.fallback");
        ++store_overflows_;
      }
      e.value.data = std::move(value.data);
      e.in_memory = true;
      store_used_ += e.size;
      --spilled_objects_;
      if (Evictable(id, e)) LruAdd(id, e);
    }
    if (!e.in_memory) return;  // its restore, when done, serves whoever waits
  }
  ObjectArrived(id, cx);
}

void NodeManager::ObjectArrived(const ObjectId& id, Context& cx) {
  auto f = fetchers_.find(id);
  if (f != fetchers_.end()) {
    const auto& e = store_.at(id);
    DRAY_ASSERT(e.in_memory, "serving fetchers from a spilled copy");
    for (const auto& fe : f->second) cx.Send(fe.proc, ObjectReady{id, fe.request, true, e.value, ""});
    fetchers_.erase(f);
  }
  auto tasks = TakeArgWaiters(id);
  if (tasks.empty()) return;
  for (const TaskId& tid : tasks) {
    auto it = waiting_args_.find(tid);
    if (it == waiting_args_.end()) continue;
    auto& miss = it->second.missing;
    miss.erase(std::remove(miss.begin(), miss.end(), id), miss.end());
    if (!miss.empty()) continue;
    TaskSpec spec = std::move(it->second.spec);
    waiting_args_.erase(it);
    if (spec.actor_kind == kActorCall) {
      DRAY_ASSERT(queued_count_ > 0);
      --queued_count_;
      UnwantArgs(spec);
      DeliverActorCall(std::move(spec), cx);
      continue;
    }
    ready_[spec.resources.items()].push_back(std::move(spec));
  }
  TryDispatch(cx);
}

void NodeManager::EnsureLocal(const ObjectId& id, const Addr& owner, const std::vector<NodeId>& locations,
                              Context& cx) {
  if (auto it = store_.find(id); it != store_.end()) {
    if (!it->second.in_memory) StartRestore(id, it->second, cx);
    return;
  }
  if (pulls_.count(id)) return;
  std::vector<NodeId> remote;
  bool any_dead = false;
  bool here = false;
  for (NodeId n : locations) {
    if (n == cfg_.node) { here = true; continue; }
    if (dead_nodes_.count(n)) { any_dead = true; continue; }
    remote.push_back(n);
  }
  if (remote.empty() && any_dead) {
    PullFailed(id, "object " + id.Str() + ": every node that held it died", cx);
    return;
  }
  if (remote.empty() && here) {
    // Its only known copy was here, and this node evicted it since. Its
    // owner forgets this location (it would send every retry here again):
    // with no copy left it rebuilds the object, or a put is lost for good.
    if (!OwnerDead(owner)) cx.Send(owner, RemoveObjectLocation{id, cfg_.node});
    PullFailed(id, "object " + id.Str() + ": its only known copy, on node " + std::to_string(cfg_.node) +
                       ", was evicted", cx);
    return;
  }
  if (remote.empty()) return;  // it is on its way to this node's store
  Pull& p = pulls_[id];
  p.locations = std::move(remote);
  p.owner = owner;
  RequestChunks(id, p, cx);
}

void NodeManager::RequestChunks(const ObjectId& id, Pull& p, Context& cx) {
  Addr src = NodeAddr(p.locations[p.source % p.locations.size()]);
  if (p.num_chunks == 0) {  // learn the size from the first chunk
    cx.Send(src, PullObject{id, 0});
    return;
  }
  uint32_t in_flight = p.next_chunk - p.received;
  while (p.next_chunk < p.num_chunks && in_flight < cfg_.pull_window) {
    cx.Send(src, PullObject{id, p.next_chunk++});
    ++in_flight;
  }
}

void NodeManager::OnPullRequest(const Addr& from, const PullObject& m, Context& cx) {
  ObjectChunk c;
  c.id = m.id;
  auto it = store_.find(m.id);
  if (it == store_.end()) {
    c.found = false;
    cx.Send(from, std::move(c));
    return;
  }
  if (!it->second.in_memory) {
    // Spilled: answered once it is read back.
    DRAY_PROBE("node.store.pull_waits_for_restore");
    waiting_pulls_[m.id].emplace_back(from, m.chunk);
    StartRestore(m.id, it->second, cx);
    return;
  }
  Touch(m.id, it->second);
  const Buf& data = it->second.value.data;
  uint64_t chunk = std::max<uint64_t>(cfg_.chunk_bytes, 1);
  // Buggify: tiny chunks (about eight per object), the same for every request
  // of a run, so a multi-chunk transfer happens even for small objects.
  if (data.size() > 1 && DRAY_BUGGIFY_SITE(cfg_.buggify, "node.tiny_pull_chunks"))
    chunk = std::min<uint64_t>(chunk, data.size() / 8 + 1);
  c.found = true;
  c.size = data.size();
  c.num_chunks = static_cast<uint32_t>(std::max<uint64_t>(1, (data.size() + chunk - 1) / chunk));
  c.chunk = m.chunk;
  c.is_error = it->second.value.is_error;
  c.contained = it->second.value.contained;
  DRAY_ASSERT(!it->second.owners.empty(), "a stored object without an owner");
  c.owner = it->second.owners.back();
  if (m.chunk < c.num_chunks) {
    uint64_t off = uint64_t{m.chunk} * chunk;
    // A slice of the value: shared, not copied.
    c.data = c.num_chunks == 1 ? data : data.Slice(off, std::min<uint64_t>(chunk, data.size() - off));
  }
  cx.Send(from, std::move(c));
}

void NodeManager::FailFetchers(const ObjectId& id, const std::string& why, Context& cx) {
  auto f = fetchers_.find(id);
  if (f == fetchers_.end()) return;
  for (const auto& fe : f->second) cx.Send(fe.proc, ObjectReady{id, fe.request, false, {}, why});
  fetchers_.erase(f);
}

void NodeManager::OnChunk(const ObjectChunk& m, Context& cx) {
  auto it = pulls_.find(m.id);
  if (it == pulls_.end()) return;  // a late duplicate
  Pull& p = it->second;
  if (!m.found) {
    // Not there (yet): try the next location after a pause, a bounded number
    // of times (the object may have been freed: nobody needs it any more).
    if (++p.misses > cfg_.pull_attempts) {
      PullFailed(m.id, "object " + m.id.Str() + " was not found at any of its " +
                           std::to_string(p.locations.size()) + " location(s)", cx);
      return;
    }
    ++p.source;
    p.num_chunks = 0;
    p.next_chunk = 0;
    p.received = 0;
    p.chunks.clear();
    p.have.clear();
    if (!p.waiting_retry) {
      p.waiting_retry = true;
      uint64_t tid = kPullRetryBase + next_retry_id_++;
      retry_timers_[tid] = m.id;
      // Buggify: ask again almost at once, so the attempts run out sooner.
      bool hasty = DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "node.short_pull_retry");
      cx.SetTimer(tid, cx.now() + (hasty ? 1'000 : cfg_.pull_retry_ns));
    }
    return;
  }
  if (p.num_chunks == 0) {
    p.num_chunks = m.num_chunks;
    p.size = m.size;
    p.is_error = m.is_error;
    p.contained = m.contained;
    // The owner the pull is for (its ref's) stays: the source's copy may be
    // held by another attempt's process as well.
    if (p.owner == Addr{}) p.owner = m.owner;
    p.chunks.assign(m.num_chunks, {});
    p.have.assign(m.num_chunks, 0);
    p.next_chunk = 1;
  }
  if (m.chunk >= p.num_chunks || p.have[m.chunk]) return;
  p.chunks[m.chunk] = m.data;
  p.have[m.chunk] = 1;
  ++p.received;
  if (p.received == p.num_chunks) {
    Buf whole;
    if (p.num_chunks == 1) {
      whole = std::move(p.chunks[0]);
    } else {
      uint64_t total = 0;
      for (auto& c : p.chunks) total += c.size();
      whole = internal::AllocateValue(total, [&](char* out) {
        for (auto& c : p.chunks) {
          std::memcpy(out, c.data(), c.size());
          out += c.size();
        }
      });
    }
    if (whole.size() != p.size) {
      // A sender that disagrees with itself: store nothing; the fetch fails.
      PullFailed(m.id, "object " + m.id.Str() + ": its chunks add up to " + std::to_string(whole.size()) +
                           " bytes, not the " + std::to_string(p.size) + " its first chunk declared", cx);
      return;
    }
    ObjectValue v{std::move(whole), p.is_error, p.contained};
    Addr owner = p.owner;
    pulls_.erase(it);
    StoreObject(m.id, std::move(v), owner, /*primary=*/false, cx);
    cx.Send(owner, AddObjectLocation{m.id, cfg_.node});
    return;
  }
  RequestChunks(m.id, p, cx);
}

// ---- reports ----

void NodeManager::MarkDirty(Context& cx) {
  dirty_ = true;
  if (!report_armed_) {
    report_armed_ = true;
    // Buggify: a late report leaves the cluster view stale for a while.
    bool late = DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "node.late_report");
    cx.SetTimer(kReportTimer, cx.now() + cfg_.report_delay_ns * (late ? 100 : 1));
  }
}

void NodeManager::SendReport(Context& cx) {
  if (!dirty_) return;
  dirty_ = false;
  ResourceReport r;
  r.node = cfg_.node;
  r.available = available_;
  r.queued = static_cast<uint32_t>(queued_count_);
  for (const auto& s : infeasible_) r.infeasible.push_back(s.resources);
  r.seq = ++report_seq_;
  auto& self = view_[cfg_.node];
  self.node = cfg_.node;
  self.total = cfg_.total;
  self.available = available_;
  cx.Send(cfg_.gcs, std::move(r));
}

void NodeManager::CheckInvariants() const {
  DRAY_ASSERT(cfg_.total.Contains(available_), "a node committed more resources than it has");
  // Over capacity only by fallback allocations (counted).
  DRAY_ASSERT(store_used_ <= cfg_.store_capacity_bytes || store_overflows_ > 0, "store over capacity uncounted");
  DRAY_ASSERT(lru_primary_.size() + lru_secondary_.size() + spilled_objects_ <= store_.size(),
              "more evictable and spilled entries than entries");
  if (store_.size() <= 64) {  // the whole store, while that is cheap (no per-step scan of a big one)
    uint64_t used = 0;
    size_t spilled = 0;
    for (const auto& [id, e] : store_) {
      if (e.in_memory) {
        DRAY_ASSERT(e.value.data.size() == e.size && !e.restoring, "an in-memory entry's bytes disagree with its size");
        used += e.size;
        DRAY_ASSERT((e.lru != 0) == Evictable(id, e), "an evictable copy is not in the LRU lists, or a kept one is");
      } else {
        ++spilled;
        DRAY_ASSERT(e.value.data.size() == 0 && e.spill_key != 0 && e.primary && e.lru == 0,
                    "a spilled entry holds bytes, has no spill file, or is not a primary copy");
      }
    }
    DRAY_ASSERT(used == store_used_, "store_used_ is not the sum of the in-memory entries");
    DRAY_ASSERT(spilled == spilled_objects_, "spilled_objects_ miscounted");
  }
  DRAY_ASSERT(idle_workers_.size() + leases_.size() <= workers_.size(), "a worker both idle and leased");
  DRAY_ASSERT(queued_count_ >= waiting_args_.size());
  for (const auto& [id, h] : actors_) {
    auto w = actor_workers_.find(h.worker);
    DRAY_ASSERT(w != actor_workers_.end() && w->second == id, "an actor's worker is not filed as its");
  }
}

}  // namespace dray
