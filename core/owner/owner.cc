#include "core/owner/owner.h"

#include <algorithm>

#include "core/common/probe.h"
#include "core/proto/codec.h"

namespace dray {

namespace {
// Forgets what was resolved for each ref argument (value or locations), so
// that resolving again sees where the objects are now.
void UnresolveRefArgs(TaskSpec& spec) {
  for (auto& a : spec.args) {
    if (a.kind != TaskArg::kRef) continue;
    a.resolved = false;
    a.value = {};
    a.in_store = false;
    a.locations.clear();
    a.size = 0;
  }
}

}  // namespace

ObjectValue ErrorValue(const std::string& kind, const std::string& message) {
  ObjectValue v;
  v.data = Buf(Pack(ErrorRecord{kind, "", "", message}));
  v.is_error = true;
  return v;
}

void Owner::Step(const Input& in, Context& cx) {
  StepInner(in, cx);
  if (cfg_.is_worker && !executing_) {
    bool owns = !owned_.empty() || !borrowed_.empty() || !parked_.empty() || !tasks_.empty();
    if (owns != reported_owns_) {
      reported_owns_ = owns;
      cx.Send(cfg_.node, WorkerOwnership{owns});
    }
  }
}

void Owner::StepInner(const Input& in, Context& cx) {
  if (const auto* d = std::get_if<InDeliver>(&in)) {
    OnDeliver(d->from, d->msg, cx);
  } else if (const auto* c = std::get_if<InCommand>(&in)) {
    OnCommand(c->cmd, cx);
  } else if (const auto* t = std::get_if<InTimer>(&in)) {
    if (t->id >= kWaitTimerBase) {
      uint64_t w = t->id - kWaitTimerBase;
      auto it = waiters_.find(w);
      if (it != waiters_.end() && !it->second.done) CompleteWaiter(w, kWaitTimeout, cx);
    } else if (t->id >= kFetchRetryBase) {
      auto it = fetch_retries_.find(t->id);
      if (it == fetch_retries_.end()) return;
      ObjectId id = it->second;
      fetch_retries_.erase(it);
      WakeFetchWaiters(id, cx);
    } else if (t->id >= kHoldTimerBase) {
      HoldTimerFired(t->id, cx);
    } else if (t->id >= kResubmitTimerBase) {
      auto r = resubmit_timers_.find(t->id);
      if (r == resubmit_timers_.end()) return;
      auto [task, attempt] = r->second;
      resubmit_timers_.erase(r);
      Resubmit(task, attempt, cx);
    }
  }
}

void Owner::HoldTimerFired(uint64_t id, Context& cx) {
  auto h = holds_timers_.find(id);
  if (h == holds_timers_.end()) return;
  TaskId task = h->second;
  holds_timers_.erase(h);
  // (An older hold's timer may release a newer one early: only shorter.)
  auto it = tasks_.find(task);
  if (it == tasks_.end() || !it->second.held) return;
  it->second.held = false;
  MaybeSubmit(it->second, cx);
}

void Owner::OnCommand(const Command& cmd, Context& cx) {
  std::visit(
      [&](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, CmdStart>) {
          if (cfg_.is_worker) cx.Send(cfg_.node, RegisterWorker{cfg_.addr});
          else cx.Send(cfg_.gcs, RegisterJob{cfg_.addr});
        } else if constexpr (std::is_same_v<C, CmdSubmit>) {
          Submit(c.spec, cx, c.actor_owner);
        } else if constexpr (std::is_same_v<C, CmdPut>) {
          DRAY_ASSERT(job_ != 0, "Put before the job is registered");
          ObjectId id = ObjectId::Put(current_task_, ++put_counter_);
          Owned o;
          o.ready = true;
          o.size = c.value.data.size();
          if (o.size > cfg_.inline_limit) {
            o.in_store = true;
            o.locations = {cfg_.node.node};
            o.value.contained = c.value.contained;
            o.value.is_error = c.value.is_error;
            cx.Send(cfg_.node, PutObject{StoredObject{id, cfg_.addr, c.value}});
          } else {
            o.value = c.value;
          }
          owned_.emplace(id, std::move(o));
          for (const auto& r : c.value.contained) Hold(r, cx);
          cx.Emit(EfCommandResult{{}, {id}});
        } else if constexpr (std::is_same_v<C, CmdGet> || std::is_same_v<C, CmdWait>) {
          Waiter w;
          w.is_get = std::is_same_v<C, CmdGet>;
          w.refs = c.refs;
          if constexpr (std::is_same_v<C, CmdWait>) w.num_returns = c.num_returns;
          DRAY_ASSERT(waiters_.count(c.waiter) == 0, "waiter id reused");
          waiters_.emplace(c.waiter, std::move(w));
          Waiter& wr = waiters_.at(c.waiter);
          for (const auto& r : c.refs) {
            if (IsReady(r)) continue;
            ++wr.unready;
            object_waiters_[r.id].push_back(c.waiter);
            Track(r, cx);
          }
          if (c.timeout_ns >= 0) {
            wr.has_timer = true;
            cx.SetTimer(kWaitTimerBase + c.waiter, cx.now() + c.timeout_ns);
          }
          CheckWaiter(c.waiter, cx);
          auto it = waiters_.find(c.waiter);
          if (it != waiters_.end() && !it->second.done && executing_ && !blocked_ &&
              executing_->actor_kind != kActorCall) {
            // (An actor's calls hold no CPU of their own.)
            // The task waits: its CPU goes back to the node meanwhile.
            blocked_ = true;
            cx.Send(cfg_.node, WorkerBlocked{executing_->task});
          }
        } else if constexpr (std::is_same_v<C, CmdAddRef>) {
          Hold(c.ref, cx);
        } else if constexpr (std::is_same_v<C, CmdRemoveRef>) {
          Release(c.ref, cx);
        } else if constexpr (std::is_same_v<C, CmdTaskReturned>) {
          OnTaskReturned(c, cx);
        } else if constexpr (std::is_same_v<C, CmdCreateActor>) {
          CreateActor(c, cx);
        } else if constexpr (std::is_same_v<C, CmdGetActor>) {
          cx.Send(cfg_.gcs, GetActorInfo{0, c.name, job_, c.waiter});
          cx.Emit(EfCommandResult{});
        } else if constexpr (std::is_same_v<C, CmdKillActor>) {
          KillActor(c, cx);
        }
      },
      cmd);
}

void Owner::OnDeliver(const Addr& from, const Message& msg, Context& cx) {
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, JobRegistered>) {
          job_ = m.job;
          current_task_ = TaskId::ForDriver(job_);
          cx.Emit(EfCompleteWait{kStartWaiter, kWaitOk, {}, {}});
        } else if constexpr (std::is_same_v<M, TaskDone>) {
          OnTaskDone(from, m, cx);
        } else if constexpr (std::is_same_v<M, TaskFailed>) {
          OnTaskFailed(m, cx);
        } else if constexpr (std::is_same_v<M, Deaths>) {
          OnDeaths(m, cx);
        } else if constexpr (std::is_same_v<M, TaskPlaced>) {
          auto it = tasks_.find(m.task);
          if (it == tasks_.end() || it->second.spec.attempt != m.attempt || m.hop <= it->second.placed_hop) return;
          it->second.placed = m.node;
          it->second.placed_hop = m.hop;
          if (IsDead(Addr{m.node, kAnyProc})) {
            // Forwarded to a node already declared dead: it is lost there.
            DRAY_PROBE("task.retry.forwarded_to_dead");
            RetryOrFail(it, "WorkerCrashedError",
                        "task '" + it->second.spec.name + "' was forwarded to node " + std::to_string(m.node) +
                            ", which had died: " + dead_.at(Addr{m.node, kAnyProc}),
                        cx);
          }
        } else if constexpr (std::is_same_v<M, ActorInfo>) {
          OnActorInfo(m, cx);
        } else if constexpr (std::is_same_v<M, ActorRegistered>) {
          OnActorRegistered(m, cx);
        } else if constexpr (std::is_same_v<M, ExecuteTask>) {
          if (m.spec.actor_kind == kActorCall) {
            QueueActorCall(m.spec, cx);
            return;
          }
          DRAY_ASSERT(!executing_, "a worker was handed a second task");
          executing_ = m.spec;
          job_ = m.spec.job;
          current_task_ = m.spec.task;
          task_counter_ = 0;
          put_counter_ = 0;
          blocked_ = false;
          cx.Emit(EfRunTask{m.spec});
        } else if constexpr (std::is_same_v<M, ResumeGrant>) {
          blocked_ = false;
          unblock_sent_ = false;
          while (!held_completions_.empty()) {
            cx.Emit(std::move(held_completions_.front()));
            held_completions_.pop_front();
          }
        } else if constexpr (std::is_same_v<M, ObjectReady>) {
          auto it = fetches_.find(m.id);
          if (it == fetches_.end() || it->second.request != m.request) return;
          if (!m.ok) {
            auto o = owned_.find(m.id);
            if (o != owned_.end() && (!o->second.ready || o->second.lost_copies)) {
              // Its copies died: it is (or will be) rebuilt; fetch again then.
              fetches_.erase(it);
              WakeFetchWaiters(m.id, cx);
              return;
            }
            if (o != owned_.end() && o->second.in_store && ++o->second.fetch_failures <= kFetchRetries) {
              // The node knows of a death this owner has not heard of yet
              // (the news travels separately): fetch again shortly, by when
              // the copies are known lost and the object gets rebuilt.
              DRAY_PROBE("object.fetch_retry");
              fetches_.erase(it);
              uint64_t tid = kFetchRetryBase + next_fetch_retry_++;
              fetch_retries_[tid] = m.id;
              cx.SetTimer(tid, cx.now() + kFetchRetryNs);
              return;
            }
            auto b = borrowed_.find(m.id);
            if (b != borrowed_.end() && !b->second.lost && !IsDead(b->second.owner)) {
              // Ask the owner again: it rebuilds a lost object, or says it is
              // gone. The Get waits for its answer, then fetches anew.
              DRAY_PROBE("object.borrower_asks_again");
              fetches_.erase(it);
              b->second.ready = false;
              b->second.status_requested = false;
              Track(RefInfo{m.id, b->second.owner}, cx);
              return;
            }
          }
          it->second.done = true;
          it->second.value = m.ok ? m.value : ErrorValue("ObjectLostError", m.error);
          auto ws = fetch_waiters_.find(m.id);
          if (ws != fetch_waiters_.end()) {
            auto copy = std::move(ws->second);
            fetch_waiters_.erase(ws);
            for (uint64_t w : copy) CheckWaiter(w, cx);
          }
        } else if constexpr (std::is_same_v<M, GetObjectStatus>) {
          auto it = owned_.find(m.id);
          if (it != owned_.end() && it->second.lost_copies) Reconstruct(m.id, cx);  // a borrower needs it
          if (it == owned_.end() || !it->second.lost_why.empty()) cx.Send(from, ObjectStatus{m.id});
          else if (!it->second.ready) it->second.status_requests.push_back(from);
          else cx.Send(from, StatusOf(m.id, it->second));
        } else if constexpr (std::is_same_v<M, ObjectStatus>) {
          auto it = borrowed_.find(m.id);
          if (it == borrowed_.end() || it->second.ready) return;
          if (from != it->second.owner && from != cfg_.addr) return;  // only the owner knows
          Borrowed& b = it->second;
          b.ready = true;
          if (!m.found) {
            b.lost = true;
          } else {
            b.in_store = m.in_store;
            b.value = m.value;
            b.locations = m.locations;
            b.size = m.size;
          }
          ObjectBecameReady(m.id, cx);
        } else if constexpr (std::is_same_v<M, AddBorrower>) {
          auto it = owned_.find(m.id);
          if (it != owned_.end() && !IsDead(from)) {
            ++it->second.borrowers;
            ++it->second.borrowed_by[from];
          }
          cx.Send(from, AddBorrowerAck{m.id, it != owned_.end()});
        } else if constexpr (std::is_same_v<M, AddBorrowerAck>) {
          auto u = unacked_by_owner_.find(from);
          if (u == unacked_by_owner_.end()) return;  // its owner was declared dead meanwhile
          if (--u->second == 0) unacked_by_owner_.erase(u);
          DRAY_ASSERT(unacked_borrows_ > 0, "an AddBorrowerAck nobody waited for");
          if (!m.found) {
            auto it = borrowed_.find(m.id);
            if (it != borrowed_.end() && !it->second.ready) {
              it->second.ready = true;
              it->second.lost = true;
              ObjectBecameReady(m.id, cx);
            }
          }
          if (--unacked_borrows_ == 0) FlushDeferred(cx);
        } else if constexpr (std::is_same_v<M, RemoveBorrower>) {
          auto it = owned_.find(m.id);
          if (it == owned_.end()) return;
          auto by = it->second.borrowed_by.find(from);
          if (by == it->second.borrowed_by.end()) return;  // dropped when it was declared dead
          DRAY_ASSERT(by->second >= m.count, "a borrower released more than it registered");
          by->second -= m.count;
          if (by->second == 0) it->second.borrowed_by.erase(by);
          it->second.borrowers -= m.count;
          DRAY_ASSERT(it->second.borrowers >= 0, "borrower count went negative");
          MaybeFree(m.id, cx);
        } else if constexpr (std::is_same_v<M, ReturnRefsAck>) {
          auto it = parked_.find(m.task);
          if (it == parked_.end()) return;
          auto refs = std::move(it->second);
          parked_.erase(it);
          for (const auto& r : refs) Release(r, cx);
        } else if constexpr (std::is_same_v<M, AddObjectLocation>) {
          auto it = owned_.find(m.id);
          if (it == owned_.end()) {
            cx.Send(Addr{m.node, kNodeManagerProc}, FreeObjects{{m.id}});  // freed meanwhile
          } else if (it->second.in_store) {
            auto& locs = it->second.locations;
            if (std::find(locs.begin(), locs.end(), m.node) == locs.end()) locs.push_back(m.node);
          }
        } else if constexpr (std::is_same_v<M, RemoveObjectLocation>) {
          // A node evicted its copy (or could not restore a spilled one).
          auto it = owned_.find(m.id);
          if (it == owned_.end() || !it->second.in_store) return;
          auto& locs = it->second.locations;
          auto before = locs.size();
          locs.erase(std::remove(locs.begin(), locs.end(), m.node), locs.end());
          if (locs.size() != before && locs.empty() && it->second.ready) {
            DRAY_PROBE("object.last_copy_dropped");
            it->second.lost_copies = true;
            WakeFetchWaiters(m.id, cx);  // Gets waiting for a fetch retry
          }
        }
      },
      msg);
}

// ---- tasks ----

void Owner::Submit(TaskSpec spec, Context& cx, Addr actor_owner) {
  DRAY_ASSERT(job_ != 0, "Submit before the job is registered");
  // A backend whose user thread does not wait for the step (the real one)
  // names the task itself, as TaskId::Child of the task it runs; the step
  // then has no result to return.
  const bool named = spec.task != TaskId{};
  if (!named) {
    spec.task = TaskId::Child(current_task_, ++task_counter_);
    spec.parent = current_task_;
  }
  spec.job = job_;
  spec.owner = cfg_.addr;
  spec.caller_attempt = executing_ ? executing_->attempt : 0;
  if (spec.name.empty()) spec.name = spec.function;
  if (spec.num_returns == 0) spec.num_returns = 1;
  EfCommandResult result{spec.task, {}};
  for (uint32_t i = 1; i <= spec.num_returns; ++i) {
    ObjectId id = ObjectId::Return(spec.task, i);
    owned_.emplace(id, Owned{});
    result.ids.push_back(id);
  }
  PendingTask t;
  t.retries_left = spec.max_retries;
  if (spec.actor_kind == kActorCall) {
    // The call keeps its actor alive while pending (Ray: an actor whose
    // handles are gone finishes the calls it was sent first).
    t.holds.push_back(RefInfo{ObjectId::Return(TaskId{spec.actor}, 1), actor_owner});
    ActorClient& client = actor_clients_[spec.actor];
    client.owner = actor_owner;
    t.retries_left = -2;  // the actor's max_task_retries, known by the first send
    spec.actor_seq = client.next_seq++;
    client.unfinished[spec.actor_seq] = spec.task;
  }
  MaybeSubmit(FileTask(std::move(t), std::move(spec), cx), cx);
  if (!named) cx.Emit(std::move(result));
}

Owner::PendingTask& Owner::FileTask(PendingTask t, TaskSpec spec, Context& cx) {
  for (const auto& a : spec.args) {
    if (a.kind == TaskArg::kRef) t.holds.push_back(a.ref);
    for (const auto& r : a.value.contained) t.holds.push_back(r);
  }
  TaskId id = spec.task;
  t.spec = std::move(spec);
  auto [it, inserted] = tasks_.emplace(id, std::move(t));
  DRAY_ASSERT(inserted, "task id derived twice");
  for (const auto& r : it->second.holds) Hold(r, cx);
  ResolveArgs(it->second, cx);
  return it->second;
}

void Owner::ResolveArgs(PendingTask& t, Context& cx) {
  t.unresolved = 0;
  for (auto& a : t.spec.args) {
    if (a.kind != TaskArg::kRef || a.resolved) continue;
    if (a.ref.owner == cfg_.addr) {
      auto o = owned_.find(a.ref.id);
      if (o != owned_.end() && o->second.lost_copies) Reconstruct(a.ref.id, cx);
    }
    if (IsReady(a.ref)) {
      FillArg(a);
    } else {
      ++t.unresolved;
      auto& deps = dependents_[a.ref.id];
      if (std::find(deps.begin(), deps.end(), t.spec.task) == deps.end()) deps.push_back(t.spec.task);
      Track(a.ref, cx);
    }
  }
}

void Owner::MaybeSubmit(PendingTask& t, Context& cx) {
  if (t.unresolved != 0 || t.submitted || t.held) return;
  if (t.spec.actor_kind == kActorCreation) {
    RegisterCreation(t, cx);
    return;
  }
  if (t.spec.actor_kind == kActorCall) {
    SubmitActorCall(t, cx);
    return;
  }
  t.submitted = true;
  t.placed = cfg_.node.node;
  t.placed_hop = 0;
  cx.Send(cfg_.node, SubmitTask{t.spec});
  // Buggify: a task with arguments in a store (it may wait for them where it
  // is queued) is sent again, as a newer attempt, up to 5 ms later, as a
  // client that gave up on a request's answer resends it (Resubmit). The node
  // keeps the newer attempt of two that wait there (and drops an older one
  // that comes later); both may run, and the first result wins, as for any
  // retry. Only for tasks retried without limit, so a task never runs more
  // often than its max_retries allows.
  bool stored_arg = false;
  for (const auto& a : t.spec.args) stored_arg |= a.kind == TaskArg::kRef && a.in_store;
  if (stored_arg && t.retries_left < 0 && DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "owner.resubmit")) {
    uint64_t tid = kResubmitTimerBase + next_hold_++;
    DRAY_ASSERT(tid < kHoldTimerBase, "resubmit timers ran into the hold timers");
    resubmit_timers_[tid] = {t.spec.task, t.spec.attempt};
    cx.SetTimer(tid, cx.now() + cx.rng().Range(1'000, 5'000'000));
  }
}

void Owner::Resubmit(const TaskId& task, uint32_t attempt, Context& cx) {
  auto it = tasks_.find(task);
  if (it == tasks_.end()) return;  // done meanwhile
  PendingTask& t = it->second;
  // Retried, failed or held meanwhile: that took care of it.
  if (!t.submitted || t.held || t.spec.attempt != attempt || t.spec.actor_kind != kNotActor) return;
  TaskSpec older = t.spec;
  older.spill_count = 0;
  ++t.spec.attempt;
  t.spec.spill_count = 0;
  t.placed = cfg_.node.node;
  t.placed_hop = 0;
  cx.Send(cfg_.node, SubmitTask{t.spec});
  // Half the time the older request comes once more, after the newer one (as
  // a copy the network held back): a node where the newer attempt waits
  // drops it.
  if (cx.rng().Chance(1, 2)) cx.Send(cfg_.node, SubmitTask{std::move(older)});
}

void Owner::FillArg(TaskArg& a) const {
  a.resolved = true;
  if (IsLost(a.ref)) {
    a.value = LostValue(a.ref);
    return;
  }
  if (a.ref.owner == cfg_.addr) {
    const Owned& o = owned_.at(a.ref.id);
    a.in_store = o.in_store;
    a.size = o.size;
    if (o.in_store) a.locations = o.locations; else a.value = o.value;
  } else {
    const Borrowed& b = borrowed_.at(a.ref.id);
    a.in_store = b.in_store;
    a.size = b.size;
    if (b.in_store) a.locations = b.locations; else a.value = b.value;
  }
}

void Owner::OnTaskDone(const Addr& from, const TaskDone& m, Context& cx) {
  if (IsDead(Addr{from.node, kAnyProc})) {
    // A worker of a node declared dead (cut off, then back): its task was
    // retried elsewhere, and what it stored is not served. Ignored.
    DRAY_PROBE("task.result.from_dead_node");
    return;
  }
  bool any_contained = false;
  for (const auto& r : m.returns) any_contained |= !r.value.contained.empty();
  auto it = tasks_.find(m.task);
  if (it == tasks_.end()) {
    // A duplicate, or an attempt that finished after another one did (its
    // worker was reported dead after it had replied). Its stored copies are
    // copies of the same value: kept while the object lives, else freed.
    DRAY_PROBE("task.result.duplicate");
    for (const auto& r : m.returns) {
      if (!r.stored) continue;
      auto o = owned_.find(r.id);
      if (o != owned_.end() && o->second.ready && o->second.in_store) {
        auto& locs = o->second.locations;
        if (std::find(locs.begin(), locs.end(), r.location) == locs.end()) locs.push_back(r.location);
      } else {
        cx.Send(Addr{r.location, kNodeManagerProc}, FreeObjects{{r.id}});
      }
    }
    if (any_contained) SendRelease(from, ReturnRefsAck{m.task}, cx);
    return;
  }
  PendingTask& t = it->second;
  // Any attempt's result is the task's result (the first to arrive wins),
  // also one older than the attempt now running.
  if (m.attempt != t.spec.attempt) DRAY_PROBE("task.result.late_attempt");
  // The task threw: retried only when the user asked for it.
  bool threw = false;
  for (const auto& r : m.returns) threw |= r.value.is_error;
  if (threw && t.spec.retry_exceptions && t.retries_left != 0) {
    if (t.retries_left > 0) --t.retries_left;
    ++t.spec.attempt;
    t.spec.spill_count = 0;
    t.submitted = false;
    for (const auto& r : m.returns)
      if (r.stored) cx.Send(Addr{r.location, kNodeManagerProc}, FreeObjects{{r.id}});
    if (any_contained) SendRelease(from, ReturnRefsAck{m.task}, cx);
    MaybeSubmit(t, cx);
    return;
  }
  std::vector<ObjectId> ready;
  for (const auto& r : m.returns) {
    auto o = owned_.find(r.id);
    if (o == owned_.end()) {  // every ref was dropped before the task finished
      if (r.stored) cx.Send(Addr{r.location, kNodeManagerProc}, FreeObjects{{r.id}});
      continue;
    }
    Owned& ob = o->second;
    if (ob.ready && !ob.lost_copies) {
      // A re-run (reconstruction) of a task whose other returns survived:
      // they keep their value; a new copy is one more location.
      if (r.stored && ob.in_store &&
          std::find(ob.locations.begin(), ob.locations.end(), r.location) == ob.locations.end())
        ob.locations.push_back(r.location);
      else if (r.stored && !ob.in_store)
        cx.Send(Addr{r.location, kNodeManagerProc}, FreeObjects{{r.id}});
      continue;
    }
    ob.ready = true;
    ob.size = r.size;
    if (r.stored) {
      ob.in_store = true;
      ob.locations = {r.location};
      ob.value.contained = r.value.contained;
      ob.value.is_error = r.value.is_error;
    } else {
      ob.value = r.value;
    }
    for (const auto& c : r.value.contained) Hold(c, cx);  // the object holds what it contains
    ready.push_back(r.id);
  }
  if (any_contained) SendRelease(from, ReturnRefsAck{m.task}, cx);
  auto holds = std::move(t.holds);
  // A stored return can be lost with its node: keep what rebuilds it (the
  // spec, and its arguments alive) while any return is alive.
  uint32_t stored_alive = 0;
  for (const auto& r : m.returns)
    if (r.stored && owned_.count(r.id)) ++stored_alive;
  ActorCallEnded(t.spec);
  // An actor call is not re-run to rebuild its output (its actor's state
  // moved on): a lost stored result of one is lost.
  if (stored_alive > 0 && cfg_.lineage_cap > 0 && t.spec.actor_kind == kNotActor) {
    Lineage lin;
    lin.spec = std::move(t.spec);
    UnresolveRefArgs(lin.spec);
    lin.holds = std::move(holds);
    holds.clear();
    lin.retries_left = t.retries_left;
    for (const auto& r : m.returns) lin.live_returns += owned_.count(r.id) ? 1 : 0;
    lineage_[m.task] = std::move(lin);
    lineage_order_.push_back(m.task);
    if (lineage_.size() > cfg_.lineage_cap) {
      TaskId oldest = lineage_order_.front();
      DropLineage(oldest, cx);
    }
  }
  tasks_.erase(it);
  for (const auto& id : ready) ObjectBecameReady(id, cx);
  for (const auto& r : holds) Release(r, cx);
}

// An attempt failed for a system reason (its worker died). Retried while
// retries remain (max_retries; -1 without limit), else every return becomes
// the error. A report about an attempt other than the current one is stale.
void Owner::OnTaskFailed(const TaskFailed& m, Context& cx) {
  auto it = tasks_.find(m.task);
  if (it == tasks_.end() || it->second.spec.attempt != m.attempt || !it->second.submitted) return;
  if (it->second.spec.actor_kind == kActorCall && m.kind != "ObjectLostError") {
    OnActorCallFailed(it, m, cx);
    return;
  }
  if (m.kind == "ObjectLostError" && ++it->second.argument_losses <= kFreeArgumentRetries) {
    // An argument's copies died: the task itself did not fail. Resolving it
    // again rebuilds the argument (or finds it lost for good, then the task
    // runs with the error), so this costs no retry, a bounded number of times.
    DRAY_PROBE("task.retry.argument_lost");
    if (it->second.retries_left >= 0) ++it->second.retries_left;
    RetryOrFail(it, m.kind, m.message, cx);
    return;
  }
  DRAY_PROBE("task.retry.worker_died");
  RetryOrFail(it, m.kind, m.message, cx);
}

void Owner::RetryOrFail(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const std::string& kind,
                        const std::string& message, Context& cx) {
  PendingTask& t = it->second;
  if (t.retries_left != 0) {
    if (t.retries_left > 0) --t.retries_left;
    ++t.spec.attempt;
    t.spec.spill_count = 0;
    t.submitted = false;
    // Resolve ref arguments again: their copies may have moved, or be lost
    // and need rebuilding.
    UnresolveRefArgs(t.spec);
    // Buggify: back off before the retry (as Ray's clients may), so that
    // other events, such as more deaths, come first.
    if (t.spec.actor_kind == kNotActor && DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "owner.retry_backoff"))
      HoldBack(it->first, t, cx);
    ResolveArgs(t, cx);
    MaybeSubmit(t, cx);
    return;
  }
  DRAY_PROBE("task.failed.out_of_retries");
  FailTask(it, ErrorValue(kind, message + " (no retries left of " + std::to_string(t.spec.max_retries) + ")"), cx);
}

void Owner::FailTask(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const ObjectValue& err,
                     Context& cx) {
  PendingTask& t = it->second;
  ActorCallEnded(t.spec);
  std::vector<ObjectId> ready;
  for (uint32_t i = 1; i <= t.spec.num_returns; ++i) {
    ObjectId id = ObjectId::Return(t.spec.task, i);
    auto o = owned_.find(id);
    if (o == owned_.end() || o->second.ready) continue;  // a return that was not lost keeps its value
    o->second.ready = true;
    o->second.in_store = false;
    o->second.lost_copies = false;
    o->second.locations.clear();
    o->second.value = err;
    o->second.size = err.data.size();
    ready.push_back(id);
  }
  auto holds = std::move(t.holds);
  tasks_.erase(it);
  for (const auto& id : ready) ObjectBecameReady(id, cx);
  for (const auto& r : holds) Release(r, cx);
}

bool Owner::IsDead(const Addr& a) const { return dead_.count(a) != 0 || dead_.count(Addr{a.node, kAnyProc}) != 0; }

ObjectValue Owner::LostValue(const RefInfo& r) const {
  if (r.owner == cfg_.addr) {
    auto o = owned_.find(r.id);
    if (o != owned_.end() && !o->second.lost_why.empty()) return ErrorValue("ObjectLostError", o->second.lost_why);
  } else {
    auto b = borrowed_.find(r.id);
    if (b != borrowed_.end() && !b->second.lost_why.empty()) return ErrorValue(b->second.lost_kind, b->second.lost_why);
  }
  return ErrorValue("ObjectLostError", "object " + r.id.Str() + " was lost");
}

// Processes or nodes died. A borrowed ref whose owner died can never resolve:
// it fails with OwnerDiedError (a value already here stays usable).
void Owner::OnDeaths(const Deaths& m, Context& cx) {
  auto dead = [&](const Addr& a) {
    return std::find(m.procs.begin(), m.procs.end(), a) != m.procs.end() ||
           std::find(m.nodes.begin(), m.nodes.end(), a.node) != m.nodes.end();
  };
  for (const Addr& a : m.procs) dead_.emplace(a, m.cause);
  for (NodeId n : m.nodes) dead_.emplace(Addr{n, kAnyProc}, m.cause);
  // Registrations a dead owner will never acknowledge protect nothing now.
  for (auto u = unacked_by_owner_.begin(); u != unacked_by_owner_.end();) {
    if (!dead(u->first)) { ++u; continue; }
    DRAY_ASSERT(unacked_borrows_ >= u->second, "unacknowledged registrations miscounted");
    unacked_borrows_ -= u->second;
    u = unacked_by_owner_.erase(u);
  }
  if (unacked_borrows_ == 0 && !deferred_.empty()) FlushDeferred(cx);
  std::vector<ObjectId> failed, fetch_failed;
  for (auto& [id, b] : borrowed_) {
    if (!dead(b.owner)) continue;
    bool have_value = b.ready && !b.lost && !b.in_store;
    if (have_value) continue;
    bool fetched = fetches_.count(id) != 0 && fetches_.at(id).done;
    if (fetched) continue;
    DRAY_PROBE("owner.died.borrowed");
    b.lost = true;
    b.lost_kind = "OwnerDiedError";
    b.lost_why = "the owner " + b.owner.Str() + " of object " + id.Str() + " died: " + m.cause;
    if (!b.ready) {
      b.ready = true;
      failed.push_back(id);
    } else {
      fetch_failed.push_back(id);  // a Get may wait for its fetch
    }
  }
  std::sort(fetch_failed.begin(), fetch_failed.end());
  for (const auto& id : fetch_failed) {
    fetches_.erase(id);
    WakeFetchWaiters(id, cx);
  }
  std::sort(failed.begin(), failed.end());  // a deterministic order
  for (const auto& id : failed) ObjectBecameReady(id, cx);
  // A dead borrower holds nothing any more (as in Ray): its registrations go.
  std::vector<ObjectId> unborrowed;
  for (auto& [id, o] : owned_) {
    for (auto b = o.borrowed_by.begin(); b != o.borrowed_by.end();) {
      if (!dead(b->first)) { ++b; continue; }
      DRAY_PROBE("owner.borrower_died");
      o.borrowers -= b->second;
      b = o.borrowed_by.erase(b);
      unborrowed.push_back(id);
    }
  }
  std::sort(unborrowed.begin(), unborrowed.end());
  for (const auto& id : unborrowed) MaybeFree(id, cx);
  // Calls queued here from a dead caller would wait for its missing ones.
  for (auto c = callers_.begin(); c != callers_.end();) c = dead(c->first) ? callers_.erase(c) : std::next(c);
  // An actor whose creator died before registering it never comes; one this
  // process only heard of dies with its owner (the control service says so
  // too, once it knows it).
  for (auto& [actor, client] : actor_clients_) {
    if (client.info.found || client.owner == Addr{} || !dead(client.owner)) continue;
    client.info.found = true;
    client.info.state = kActorDead;
    client.info.cause = "its owner " + client.owner.Str() + " died: " + m.cause;
    ReviewActorCalls(actor, cx);
  }
  if (m.nodes.empty()) return;
  // Copies on dead nodes are gone. An object with none left is rebuilt when
  // it is next needed (lineage), or is lost.
  std::vector<ObjectId> rebuild;
  for (auto& [id, o] : owned_) {
    if (!o.in_store || o.locations.empty()) continue;
    auto& locs = o.locations;
    for (NodeId n : m.nodes) locs.erase(std::remove(locs.begin(), locs.end(), n), locs.end());
    if (locs.empty() && o.ready) {
      o.lost_copies = true;
      rebuild.push_back(id);
    }
  }
  std::sort(rebuild.begin(), rebuild.end());
  for (const ObjectId& id : rebuild) WakeFetchWaiters(id, cx);  // Gets waiting for a fetch retry
  // Tasks last placed on a dead node are lost with it: retried, or failed.
  std::vector<TaskId> lost_tasks;
  for (const auto& [id, t] : tasks_)
    if (t.submitted && t.spec.actor_kind == kNotActor &&
        std::find(m.nodes.begin(), m.nodes.end(), t.placed) != m.nodes.end())
      lost_tasks.push_back(id);
  std::sort(lost_tasks.begin(), lost_tasks.end());
  for (const TaskId& id : lost_tasks) {
    DRAY_PROBE("task.retry.node_died");
    auto it = tasks_.find(id);
    RetryOrFail(it, "WorkerCrashedError",
                "node " + std::to_string(it->second.placed) + " died while it held task '" + it->second.spec.name +
                    "' (attempt " + std::to_string(it->second.spec.attempt + 1) + "): " + m.cause,
                cx);
  }
}

std::string Owner::Pending(size_t max) const {
  std::vector<TaskId> ids;
  for (const auto& [id, t] : tasks_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  size_t n = 0;
  for (const TaskId& id : ids) {
    if (n++ == max) { out += " ..."; break; }
    const PendingTask& t = tasks_.at(id);
    out += " task " + t.spec.name + "#" + std::to_string(id.v % 100000) + "(attempt " + std::to_string(t.spec.attempt) +
           (t.submitted ? ", at node " + std::to_string(t.placed) : ", " + std::to_string(t.unresolved) + " args unresolved") +
           (t.held ? ", held back" : "") +
           ")";
  }
  for (const auto& [wid, w] : waiters_) {
    if (w.done) continue;
    out += " waiter " + std::to_string(wid) + "(" + std::to_string(w.unready) + " unready of " +
           std::to_string(w.refs.size()) + ")";
    for (const auto& r : w.refs) {
      bool fetching = fetch_waiters_.count(r.id) != 0;
      if (!IsReady(r) || fetching) out += " [" + r.id.Str() + (IsReady(r) ? " fetching" : " unready") + "]";
    }
  }
  for (const auto& [actor, c] : actor_clients_) {
    if (c.unfinished.empty()) continue;
    out += " actor " + std::to_string(actor % 100000) + "(state " + std::to_string(c.info.state) + ", incarnation " +
           std::to_string(c.info.incarnation) + ", " + std::to_string(c.unfinished.size()) + " calls unfinished from seq " +
           std::to_string(c.unfinished.begin()->first) + ")";
  }
  if (!callers_.empty() || !runnable_calls_.empty())
    out += " hosting: " + std::to_string(runnable_calls_.size()) + " runnable, " + std::to_string(callers_.size()) +
           " callers";
  return out;
}

// ---- lineage ----

bool Owner::Reconstruct(const ObjectId& id, Context& cx) {
  auto o = owned_.find(id);
  DRAY_ASSERT(o != owned_.end() && o->second.lost_copies, "reconstructing an object that is not lost");
  TaskId task{id.task};
  if (!id.IsPut() && tasks_.count(task)) {
    // Its task runs again already (rebuilding another return): wait for it.
    MarkRebuilding(o->second, cx);
    return true;
  }
  auto l = id.IsPut() ? lineage_.end() : lineage_.find(task);
  std::string why;
  if (id.IsPut())
    why = "object " + id.Str() + " was put, and every copy of it was lost (its node died, or its spilled copy " +
          "could not be read back); a put object has no lineage to rebuild it from";
  else if (l == lineage_.end()) why = "object " + id.Str() + " lost every copy, and its lineage was not kept (lineage_cap)";
  else if (l->second.retries_left == 0) why = "object " + id.Str() + " lost every copy, and its task '" +
                                              l->second.spec.name + "' has no retries left to rebuild it";
  if (!why.empty()) {
    if (id.IsPut()) DRAY_PROBE("object.lost.put");
    else DRAY_PROBE("object.lost.no_lineage");
    o->second.lost_copies = false;
    o->second.lost_why = why;
    WakeFetchWaiters(id, cx);
    return false;
  }
  ++reconstructions_;
  DRAY_PROBE("object.reconstruct");
  Lineage lin = std::move(l->second);
  lineage_.erase(l);
  lineage_order_.erase(std::find(lineage_order_.begin(), lineage_order_.end(), task));
  // Every lost return of the task waits for the re-run; a return that still
  // has copies gets the new location as well.
  for (uint32_t i = 1; i <= lin.spec.num_returns; ++i) {
    auto r = owned_.find(ObjectId::Return(task, i));
    if (r == owned_.end() || !r->second.lost_copies) continue;
    fetches_.erase(r->first);
    MarkRebuilding(r->second, cx);
  }
  PendingTask t;
  t.spec = std::move(lin.spec);
  t.retries_left = lin.retries_left > 0 ? lin.retries_left - 1 : lin.retries_left;
  ++t.spec.attempt;
  t.spec.spill_count = 0;
  t.holds = std::move(lin.holds);
  auto [it, inserted] = tasks_.emplace(task, std::move(t));
  DRAY_ASSERT(inserted, "reconstructing a task that is still pending");
  // Buggify: the re-run waits a while, so that other reconstructions (and
  // fetches of the lost object) overtake it.
  if (DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "owner.reconstruction_delayed")) HoldBack(task, it->second, cx);
  ResolveArgs(it->second, cx);
  MaybeSubmit(it->second, cx);
  return true;
}

// Buggify: the task's next submission waits 1 to 100 ms (a hold timer);
// nothing else about it changes. REQUIRES: not submitted.
void Owner::HoldBack(const TaskId& task, PendingTask& t, Context& cx) {
  DRAY_ASSERT(!t.submitted && !t.held, "holding back a submitted or held task");
  t.held = true;
  uint64_t tid = kHoldTimerBase + next_hold_++;
  DRAY_ASSERT(tid < kFetchRetryBase, "hold timers ran into the fetch-retry timers");
  holds_timers_[tid] = task;
  cx.SetTimer(tid, cx.now() + cx.rng().Range(1'000'000, 100'000'000));
}

// A lost return waits for its task's re-run: not ready, no copies, and what
// its old value contained is let go (the new value holds its own).
void Owner::MarkRebuilding(Owned& o, Context& cx) {
  o.lost_copies = false;
  o.ready = false;
  o.in_store = false;
  o.locations.clear();
  o.fetch_failures = 0;
  auto contained = std::move(o.value.contained);
  o.value = {};
  for (const auto& c : contained) Release(c, cx);
}

void Owner::DropLineage(const TaskId& task, Context& cx) {
  auto l = lineage_.find(task);
  if (l == lineage_.end()) return;
  auto holds = std::move(l->second.holds);
  lineage_.erase(l);
  auto pos = std::find(lineage_order_.begin(), lineage_order_.end(), task);
  if (pos != lineage_order_.end()) lineage_order_.erase(pos);
  for (const auto& r : holds) Release(r, cx);
}

void Owner::WakeFetchWaiters(const ObjectId& id, Context& cx) {
  auto ws = fetch_waiters_.find(id);
  if (ws == fetch_waiters_.end()) return;
  auto copy = std::move(ws->second);
  fetch_waiters_.erase(ws);
  for (uint64_t w : copy) CheckWaiter(w, cx);
}

void Owner::OnTaskReturned(const CmdTaskReturned& c, Context& cx) {
  DRAY_ASSERT(executing_ && executing_->task == c.task, "a result for a task this worker is not running");
  const TaskSpec& spec = *executing_;
  TaskFinished fin{spec.task, {}};
  TaskDone done{spec.task, spec.attempt, cfg_.addr, {}};
  for (size_t i = 0; i < c.returns.size(); ++i) {
    const ObjectValue& v = c.returns[i];
    ReturnObject ro;
    ro.id = ObjectId::Return(spec.task, static_cast<uint32_t>(i + 1));
    ro.size = v.data.size();
    for (const auto& r : v.contained) {  // parked until the submitter acknowledges
      Hold(r, cx);
      parked_[spec.task].push_back(r);
    }
    if (ro.size > cfg_.inline_limit) {
      ro.stored = true;
      ro.location = cfg_.node.node;
      ro.value.contained = v.contained;
      ro.value.is_error = v.is_error;
      fin.stored.push_back(StoredObject{ro.id, spec.owner, v});
    } else {
      ro.value = v;
    }
    done.returns.push_back(std::move(ro));
  }
  fin.owns_objects = !owned_.empty() || !borrowed_.empty() || !parked_.empty() || !tasks_.empty();
  reported_owns_ = fin.owns_objects;
  cx.Send(cfg_.node, std::move(fin));
  // A constructor's result goes through the node manager, which takes the
  // worker as the actor's before the control service hears of it.
  SendRelease(spec.actor_kind == kActorCreation ? cfg_.node : spec.owner, std::move(done), cx);
  executing_.reset();
  blocked_ = false;
  current_task_ = {};
  RunNextActorCall(cx);
}

// ---- reference counting ----

void Owner::Hold(const RefInfo& r, Context& cx) {
  if (r.owner == cfg_.addr) {
    auto it = owned_.find(r.id);
    DRAY_ASSERT(it != owned_.end(), "a reference to an object its owner already freed");
    ++it->second.refs;
    return;
  }
  Borrowed& b = borrowed_[r.id];
  b.owner = r.owner;
  if (++b.refs == 1 && b.registered == 0 && !IsDead(r.owner)) {  // a dead owner keeps no count
    b.registered = 1;
    ++unacked_borrows_;
    ++unacked_by_owner_[r.owner];
    cx.Send(r.owner, AddBorrower{r.id});
  }
}

void Owner::Release(const RefInfo& r, Context& cx) {
  if (r.owner == cfg_.addr) {
    auto it = owned_.find(r.id);
    DRAY_ASSERT(it != owned_.end(), "releasing an object that was already freed");
    --it->second.refs;
    DRAY_ASSERT(it->second.refs >= 0, "reference count went negative");
    MaybeFree(r.id, cx);
    return;
  }
  auto it = borrowed_.find(r.id);
  DRAY_ASSERT(it != borrowed_.end(), "releasing a borrowed ref that is not held");
  DRAY_ASSERT(it->second.refs > 0, "borrowed reference count went negative");
  if (--it->second.refs > 0) return;
  uint32_t n = it->second.registered;
  Addr owner = it->second.owner;
  borrowed_.erase(it);
  fetches_.erase(r.id);
  if (n > 0) SendRelease(owner, RemoveBorrower{r.id, n}, cx);
}

void Owner::MaybeFree(const ObjectId& id, Context& cx) {
  auto it = owned_.find(id);
  if (it == owned_.end() || it->second.refs > 0 || it->second.borrowers > 0) return;
  Owned o = std::move(it->second);
  owned_.erase(it);
  fetches_.erase(id);
  if (id.index == 1 && created_.count(id.task)) AnchorFreed(id, cx);
  if (!id.IsPut()) {
    auto l = lineage_.find(TaskId{id.task});
    if (l != lineage_.end() && --l->second.live_returns == 0) DropLineage(TaskId{id.task}, cx);
  }
  if (o.in_store)
    for (NodeId n : o.locations) cx.Send(Addr{n, kNodeManagerProc}, FreeObjects{{id}});
  if (!o.ready) return;  // the task still runs; its result is dropped on arrival
  for (const auto& c : o.value.contained) Release(c, cx);
}

void Owner::SendRelease(Addr to, Message m, Context& cx) {
  if (unacked_borrows_ > 0) deferred_.emplace_back(to, std::move(m));
  else cx.Send(to, std::move(m));
}

void Owner::FlushDeferred(Context& cx) {
  auto msgs = std::move(deferred_);
  deferred_.clear();
  for (auto& [to, m] : msgs) cx.Send(to, std::move(m));
}

// ---- object status ----

ObjectStatus Owner::StatusOf(const ObjectId& id, const Owned& o) {
  ObjectStatus s;
  s.id = id;
  s.found = true;
  s.in_store = o.in_store;
  s.value = o.value;
  s.locations = o.locations;
  s.size = o.size;
  return s;
}

bool Owner::IsReady(const RefInfo& r) const {
  if (r.owner == cfg_.addr) {
    auto it = owned_.find(r.id);
    return it == owned_.end() || it->second.ready;  // a missing object is lost, which is final
  }
  auto it = borrowed_.find(r.id);
  return it == borrowed_.end() || it->second.ready;
}

bool Owner::IsLost(const RefInfo& r) const {
  if (r.owner == cfg_.addr) {
    auto it = owned_.find(r.id);
    return it == owned_.end() || !it->second.lost_why.empty();
  }
  auto it = borrowed_.find(r.id);
  return it == borrowed_.end() || it->second.lost;
}

void Owner::Track(const RefInfo& r, Context& cx) {
  if (r.owner == cfg_.addr) return;
  auto it = borrowed_.find(r.id);
  if (it == borrowed_.end() || it->second.status_requested) return;
  it->second.status_requested = true;
  auto died = dead_.find(r.owner);
  if (died == dead_.end()) died = dead_.find(Addr{r.owner.node, kAnyProc});
  if (died != dead_.end()) {
    // The owner is known dead: nobody will answer. Answer ourselves, in a
    // step of its own (this one may be resolving arguments).
    it->second.lost_kind = "OwnerDiedError";
    it->second.lost_why = "the owner " + r.owner.Str() + " of object " + r.id.Str() + " died: " + died->second;
    cx.Send(cfg_.addr, ObjectStatus{r.id});
    return;
  }
  cx.Send(r.owner, GetObjectStatus{r.id});
}

void Owner::ObjectBecameReady(const ObjectId& id, Context& cx) {
  auto d = dependents_.find(id);
  if (d != dependents_.end()) {
    auto tasks = std::move(d->second);
    dependents_.erase(d);
    for (const TaskId& tid : tasks) {
      auto t = tasks_.find(tid);
      if (t == tasks_.end()) continue;
      for (auto& a : t->second.spec.args) {
        if (a.kind == TaskArg::kRef && !a.resolved && a.ref.id == id) {
          FillArg(a);
          DRAY_ASSERT(t->second.unresolved > 0);
          --t->second.unresolved;
        }
      }
      MaybeSubmit(t->second, cx);
    }
  }
  auto w = object_waiters_.find(id);
  if (w != object_waiters_.end()) {
    auto ids = std::move(w->second);
    object_waiters_.erase(w);
    for (uint64_t wid : ids) RefReady(wid, cx);
  }
  WakeFetchWaiters(id, cx);  // Gets that waited for it to be rebuilt
  auto o = owned_.find(id);
  if (o != owned_.end() && !o->second.status_requests.empty()) {
    ObjectStatus s = StatusOf(id, o->second);
    for (const Addr& a : o->second.status_requests) cx.Send(a, s);
    o->second.status_requests.clear();
  }
}

bool Owner::ValueAvailable(const RefInfo& r, Context& cx) {
  if (IsLost(r)) return true;
  bool in_store;
  Addr owner = r.owner;
  const std::vector<NodeId>* locs;
  if (r.owner == cfg_.addr) {
    const Owned& o = owned_.at(r.id);
    if (o.lost_copies) {
      // Rebuild it; the waiter waits for it like for a fetch.
      if (!Reconstruct(r.id, cx)) return true;
      return false;
    }
    if (!o.ready) return false;  // being rebuilt
    in_store = o.in_store;
    locs = &o.locations;
  } else {
    const Borrowed& b = borrowed_.at(r.id);
    if (!b.ready) return false;  // asked its owner again (its copies died)
    in_store = b.in_store;
    locs = &b.locations;
  }
  if (!in_store) return true;
  auto it = fetches_.find(r.id);
  if (it != fetches_.end()) return it->second.done;
  Fetch f;
  f.request = next_fetch_++;
  cx.Send(cfg_.node, FetchObject{r.id, owner, *locs, f.request});
  fetches_.emplace(r.id, std::move(f));
  return false;
}

ObjectValue Owner::ValueOf(const RefInfo& r) const {
  if (IsLost(r)) return LostValue(r);
  auto f = fetches_.find(r.id);
  if (f != fetches_.end() && f->second.done) return f->second.value;
  if (r.owner == cfg_.addr) return owned_.at(r.id).value;
  return borrowed_.at(r.id).value;
}

// ---- waiters ----

void Owner::RefReady(uint64_t id, Context& cx) {
  auto it = waiters_.find(id);
  if (it == waiters_.end() || it->second.done) return;
  DRAY_ASSERT(it->second.unready > 0, "a waiter counted a ref ready twice");
  --it->second.unready;
  CheckWaiter(id, cx);
}

// Checking a Get can rebuild or give up on an object, which wakes the Gets
// waiting for it, this one included: such checks wait until this one is done.
void Owner::CheckWaiter(uint64_t id, Context& cx) {
  if (checking_) {
    recheck_.push_back(id);
    return;
  }
  checking_ = true;
  CheckWaiterNow(id, cx);
  while (!recheck_.empty()) {
    uint64_t next = recheck_.front();
    recheck_.pop_front();
    CheckWaiterNow(next, cx);
  }
  checking_ = false;
}

void Owner::CheckWaiterNow(uint64_t id, Context& cx) {
  auto it = waiters_.find(id);
  if (it == waiters_.end() || it->second.done) return;
  Waiter& w = it->second;
  if (w.is_get) {
    if (w.unready > 0) return;
    // Every ref is ready: large values must reach this node before Get returns.
    bool all = true;
    for (const auto& r : w.refs) {
      if (ValueAvailable(r, cx)) continue;
      all = false;
      auto& fw = fetch_waiters_[r.id];
      if (std::find(fw.begin(), fw.end(), id) == fw.end()) fw.push_back(id);
    }
    if (all) CompleteWaiter(id, kWaitOk, cx);
  } else if (w.refs.size() - w.unready >= w.num_returns) {
    CompleteWaiter(id, kWaitOk, cx);
  }
}

void Owner::CompleteWaiter(uint64_t id, uint8_t status, Context& cx) {
  auto it = waiters_.find(id);
  DRAY_ASSERT(it != waiters_.end());
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  EfCompleteWait ef{id, status, {}, {}};
  if (status == kWaitOk && w.is_get) {
    ef.values.reserve(w.refs.size());
    for (const auto& r : w.refs) ef.values.push_back(ValueOf(r));
  }
  if (!w.is_get) {
    uint32_t taken = 0;
    for (const auto& r : w.refs) {
      bool ready = IsReady(r) && taken < w.num_returns;
      if (ready) ++taken;
      ef.ready.push_back(ready ? 1 : 0);
    }
  }
  if (w.unready > 0) {  // timed out: forget this waiter where it still waits
    for (const auto& r : w.refs) {
      auto ow = object_waiters_.find(r.id);
      if (ow == object_waiters_.end()) continue;
      auto& v = ow->second;
      v.erase(std::remove(v.begin(), v.end(), id), v.end());
      if (v.empty()) object_waiters_.erase(ow);
    }
  }
  for (const auto& r : w.refs) {
    auto fw = fetch_waiters_.find(r.id);
    if (fw != fetch_waiters_.end()) {
      auto& v = fw->second;
      v.erase(std::remove(v.begin(), v.end(), id), v.end());
      if (v.empty()) fetch_waiters_.erase(fw);
    }
    // The value was handed out; the node's store keeps the object itself.
    if (fetches_.count(r.id) && !fetch_waiters_.count(r.id) && fetches_.at(r.id).done) fetches_.erase(r.id);
  }
  if (w.has_timer) cx.CancelTimer(kWaitTimerBase + id);
  DeliverCompletion(std::move(ef), cx);
}

void Owner::DeliverCompletion(EfCompleteWait ef, Context& cx) {
  if (cfg_.is_worker && blocked_) {
    if (!unblock_sent_) {
      unblock_sent_ = true;
      cx.Send(cfg_.node, WorkerUnblocked{executing_ ? executing_->task : TaskId{}});
    }
    held_completions_.push_back(std::move(ef));
    return;
  }
  cx.Emit(std::move(ef));
}

void Owner::CheckInvariants() const {
  DRAY_ASSERT(!blocked_ || executing_, "blocked without a running task");
  DRAY_ASSERT(cfg_.is_worker || !executing_, "a driver executing a task");
  DRAY_ASSERT(unacked_borrows_ > 0 || deferred_.empty(), "deferred messages with nothing to wait for");
  uint32_t by_owner = 0;
  for (const auto& [a, n] : unacked_by_owner_) by_owner += n;
  DRAY_ASSERT(by_owner == unacked_borrows_, "unacknowledged registrations: total and per-owner counts disagree");
}

}  // namespace dray
