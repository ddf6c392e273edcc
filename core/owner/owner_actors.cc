// The Owner's share of actors (docs/actors.md).
//
// Caller side: an actor's handle is a ref to its handle object (the return
// of its creation task, owned by the creator), so handles are counted by the
// borrowing protocol like any ref; when the last is gone the creator kills
// the actor. Each call takes the caller's next sequence number for that
// actor and is sent, once its arguments are resolved, to the node of the
// incarnation alive now; the worker runs each caller's calls in sequence
// order. Calls wait while the actor is pending or restarting. When the
// incarnation a call went to is gone, the call is sent to the next one while
// max_task_retries allows, else it fails: ActorUnavailableError while the
// actor restarts, ActorDiedError once it is dead.
//
// Worker side: an actor's worker queues calls per caller and runs the next
// in sequence one at a time.
#include <algorithm>

#include "core/common/probe.h"
#include "core/owner/owner.h"
#include "core/proto/codec.h"

namespace dray {

void Owner::CreateActor(const CmdCreateActor& c, Context& cx) {
  DRAY_ASSERT(job_ != 0, "CreateActor before the job is registered");
  TaskSpec spec = c.spec.creation;
  // (Named by the user thread, as in Submit, or here.)
  const TaskId parent = spec.task != TaskId{} ? spec.parent : current_task_;
  if (spec.task == TaskId{}) spec.task = TaskId::Child(current_task_, ++task_counter_);
  // A retried task's actors are new actors: the control service may hold its
  // earlier attempt's under the same child id (dead with their owner), and
  // would take this registration for a resend of that one (the recovery
  // swarm, seed 22: the call waited for an actor that was never created).
  if (executing_ && executing_->attempt > 0)
    spec.task = TaskId::Child(spec.task, (uint64_t{1} << 32) + executing_->attempt);
  spec.parent = parent;
  spec.job = job_;
  spec.owner = cfg_.addr;
  spec.actor_kind = kActorCreation;
  spec.actor = spec.task.v;
  spec.num_returns = 1;
  if (spec.name.empty()) spec.name = spec.function;
  uint64_t actor = spec.actor;
  // The handle object: ready at once, it only counts handles.
  ObjectId anchor = ObjectId::Return(spec.task, 1);
  Owned o;
  o.ready = true;
  o.value.data = Buf(Pack(msgpack::type::nil_t()));
  owned_.emplace(anchor, std::move(o));
  Created& cr = created_[actor];
  cr.spec = c.spec;
  cr.spec.actor = actor;
  cr.spec.owner = cfg_.addr;
  cr.spec.job = job_;
  cr.waiter = c.spec.name.empty() ? 0 : c.waiter;
  ActorClient& client = actor_clients_[actor];
  client.subscribed = true;  // the creator hears every change
  client.owner = cfg_.addr;
  client.info.actor = actor;
  client.info.max_task_retries = c.spec.max_task_retries;
  TaskId id = spec.task;
  PendingTask& t = FileTask(PendingTask{}, std::move(spec), cx);
  cx.Emit(EfCommandResult{id, {anchor}});
  if (cr.waiter != 0 && executing_ && !blocked_ && executing_->actor_kind != kActorCall) {
    // A named creation waits for the control service (after its arguments):
    // the task gives its CPU back meanwhile, as in a Get.
    blocked_ = true;
    cx.Send(cfg_.node, WorkerBlocked{executing_->task});
  }
  MaybeSubmit(t, cx);
}

// The constructor's arguments are resolved: the control service takes over
// (it places the creation and restarts the actor). The arguments stay held
// while the actor may need them again.
void Owner::RegisterCreation(PendingTask& t, Context& cx) {
  uint64_t actor = t.spec.actor;
  Created& cr = created_.at(actor);
  cr.spec.creation = t.spec;
  cr.holds = std::move(t.holds);
  cx.Send(cfg_.gcs, RegisterActor{cr.spec});
  tasks_.erase(t.spec.task);
}

void Owner::OnActorRegistered(const ActorRegistered& m, Context& cx) {
  auto c = created_.find(m.actor);
  if (c == created_.end() || c->second.waiter == 0) return;
  EfCompleteWait done{c->second.waiter, kWaitOk, {}, {}};
  c->second.waiter = 0;
  if (!m.ok) {
    // Refused (its name is taken): it never existed. Create() throws, so no
    // handle holds its handle object.
    done.values.push_back(ErrorValue("Error", "Actor().Remote(): " + m.error));
    ActorClient& client = actor_clients_[m.actor];
    client.info.found = true;
    client.info.state = kActorDead;
    client.info.cause = m.error;
    auto holds = std::move(c->second.holds);
    created_.erase(c);
    for (const auto& r : holds) Release(r, cx);
    MaybeFree(ObjectId::Return(TaskId{m.actor}, 1), cx);
  }
  DeliverCompletion(std::move(done), cx);  // through ResumeGrant if the task gave its CPU back
}

void Owner::SubmitActorCall(PendingTask& t, Context& cx) {
  ActorClient& client = actor_clients_[t.spec.actor];
  if (!client.killed.empty() || client.info.state == kActorDead) {
    auto it = tasks_.find(t.spec.task);
    FailTask(it,
             ErrorValue("ActorDiedError", "actor call '" + t.spec.name + "': the actor is dead: " +
                                              (client.killed.empty() ? client.info.cause : client.killed)),
             cx);
    return;
  }
  if (!client.subscribed) {
    client.subscribed = true;
    cx.Send(cfg_.gcs, GetActorInfo{t.spec.actor, "", job_, 0});
  }
  if (client.info.state != kActorAlive) return;  // sent once it is alive
  if (t.retries_left == -2) t.retries_left = client.info.max_task_retries;  // learnt now
  t.submitted = true;
  t.spec.incarnation = client.info.incarnation;
  t.spec.actor_done_below = client.unfinished.begin()->first;
  t.placed = client.info.worker.node;
  cx.Send(Addr{client.info.worker.node, kNodeManagerProc}, SubmitTask{t.spec});
}

void Owner::OnActorInfo(const ActorInfo& m, Context& cx) {
  if (m.request != 0) {
    // The answer to a GetActor (by name).
    EfCompleteWait done{m.request, kWaitOk, {}, {}};
    if (m.found && m.state != kActorDead) {
      ObjectValue v;
      v.data = Buf(Pack(m));
      done.values.push_back(std::move(v));
    }
    cx.Emit(std::move(done));
    if (!m.found) return;
    actor_clients_[m.actor].subscribed = true;
    actor_clients_[m.actor].owner = m.owner;
  }
  if (!m.found) return;
  ActorClient& client = actor_clients_[m.actor];
  // Changes only move forward: (incarnation, pending/restarting < alive <
  // dead). An older state can arrive after a newer one when a GetActor's
  // answer crosses a publication.
  auto rank = [](const ActorInfo& i) {
    return std::make_pair(i.incarnation, i.state == kActorDead ? 2 : i.state == kActorAlive ? 1 : 0);
  };
  if (client.info.found && (client.info.state == kActorDead || rank(m) < rank(client.info))) return;
  client.info = m;
  client.info.request = 0;
  if (m.state == kActorDead) {
    auto c = created_.find(m.actor);
    if (c != created_.end()) {
      // It will not start again: its constructor's arguments can go.
      auto holds = std::move(c->second.holds);
      c->second.holds.clear();
      if (c->second.waiter == 0 && !owned_.count(ObjectId::Return(TaskId{m.actor}, 1))) created_.erase(c);
      for (const auto& r : holds) Release(r, cx);
    }
  }
  ReviewActorCalls(m.actor, cx);
}

// The actor's state changed: calls sent to an incarnation that is gone are
// sent again or fail; waiting calls go out if it is alive.
void Owner::ReviewActorCalls(uint64_t actor, Context& cx) {
  auto cit = actor_clients_.find(actor);
  if (cit == actor_clients_.end()) return;
  std::vector<TaskId> calls;
  for (const auto& [seq, id] : cit->second.unfinished) calls.push_back(id);
  for (const TaskId& id : calls) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    ActorClient& client = actor_clients_.at(actor);  // FailTask may not touch the map's shape
    PendingTask& t = it->second;
    bool dead = client.info.state == kActorDead;
    if (dead) {
      FailTask(it, ErrorValue("ActorDiedError", "actor call '" + t.spec.name + "': the actor died: " + client.info.cause),
               cx);
      continue;
    }
    if (!t.submitted || t.spec.incarnation >= client.info.incarnation) continue;
    // Its incarnation is gone: it may or may not have run there.
    if (t.retries_left == -2) t.retries_left = client.info.max_task_retries;
    if (t.retries_left != 0) {
      DRAY_PROBE("actor.call.retried");
      if (t.retries_left > 0) --t.retries_left;
      ++t.spec.attempt;
      t.submitted = false;
      continue;
    }
    DRAY_PROBE("actor.call.failed");
    FailTask(it,
             ErrorValue("ActorUnavailableError", "actor call '" + t.spec.name + "' was sent to incarnation " +
                                                     std::to_string(t.spec.incarnation) +
                                                     ", which is gone; the actor restarts (" + client.info.cause +
                                                     "), and the call has no retries left (max_task_retries)"),
             cx);
  }
  // Send what waits, in sequence order.
  for (const TaskId& id : calls) {
    auto it = tasks_.find(id);
    if (it != tasks_.end()) MaybeSubmit(it->second, cx);
  }
}

// A node had no such incarnation (it died or was stopped): the control
// service says what became of the actor, and the call is reviewed then.
void Owner::OnActorCallFailed(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const TaskFailed& m,
                              Context& cx) {
  uint64_t actor = it->second.spec.actor;
  ActorClient& client = actor_clients_[actor];
  if (client.info.state == kActorDead || client.info.incarnation > it->second.spec.incarnation)
    ReviewActorCalls(actor, cx);
}

void Owner::ActorCallEnded(const TaskSpec& spec) {
  if (spec.actor_kind != kActorCall) return;
  auto c = actor_clients_.find(spec.actor);
  if (c != actor_clients_.end()) c->second.unfinished.erase(spec.actor_seq);
}

void Owner::KillActor(const CmdKillActor& c, Context& cx) {
  std::string cause = c.no_restart ? "killed by dray::Kill()" : "killed by dray::Kill() (restart allowed)";
  if (c.no_restart) actor_clients_[c.actor].killed = cause;
  cx.Send(cfg_.gcs, dray::KillActor{c.actor, c.no_restart, cause});
  if (c.no_restart) ReviewActorCalls(c.actor, cx);
}

// Every handle of an actor this process created is gone (and no call is
// pending): the actor goes (as in Ray, for actors that are not detached).
void Owner::AnchorFreed(const ObjectId& id, Context& cx) {
  auto c = created_.find(id.task);
  DRAY_ASSERT(c != created_.end());
  auto t = tasks_.find(TaskId{id.task});
  if (t != tasks_.end() && t->second.spec.actor_kind == kActorCreation) {
    // Not registered yet (its constructor's arguments are not ready): it
    // never will be. Its arguments go.
    DRAY_PROBE("actor.dropped_before_registration");
    auto holds = std::move(t->second.holds);
    tasks_.erase(t);
    created_.erase(c);
    ActorClient& client = actor_clients_[id.task];
    client.info.found = true;
    client.info.state = kActorDead;
    client.info.cause = "every handle to it went out of scope before it was created";
    for (const auto& r : holds) Release(r, cx);
    return;
  }
  auto client = actor_clients_.find(id.task);
  bool dead = client != actor_clients_.end() && client->second.info.state == kActorDead;
  if (!dead)
    cx.Send(cfg_.gcs, dray::KillActor{id.task, true, "every handle to it went out of scope"});
  if (dead || c->second.holds.empty()) created_.erase(c);
}

// ---- worker side ----

void Owner::QueueActorCall(const TaskSpec& spec, Context& cx) {
  // A retried caller task starts its calls over, from a new worker (a new
  // caller here). Its dead attempt's calls may still be on their way (a
  // retransmitted frame, a healed cut), and its death may reach this node
  // after the retry's calls do (the node's check for dead callers,
  // node.actor_call_from_dead_caller, then misses them): once the newer
  // attempt has called, they must not run (the actor swarm, seed 467: the
  // dead attempt's calls 5-8 ran between the retry's calls 3 and 4).
  if (auto c = caller_attempts_.find(spec.parent); c != caller_attempts_.end() && spec.caller_attempt < c->second) {
    DRAY_PROBE("actor.call.from_superseded_caller");
    return;
  }
  if (spec.caller_attempt > 0) {
    uint32_t& newest = caller_attempts_[spec.parent];
    newest = std::max(newest, spec.caller_attempt);
  }
  CallerQueue& q = callers_[spec.owner];
  // Every call below done_below is finished at the caller: never wait for it
  // (it ran on an older incarnation, or failed there).
  q.next = std::max(q.next, spec.actor_done_below);
  if (spec.actor_seq < q.next) return;  // already run here: a stale copy
  q.waiting[spec.actor_seq] = spec;
  while (!q.waiting.empty() && q.waiting.begin()->first <= q.next) {
    if (q.waiting.begin()->first == q.next) {
      runnable_calls_.push_back(std::move(q.waiting.begin()->second));
      ++q.next;
    }
    q.waiting.erase(q.waiting.begin());
  }
  RunNextActorCall(cx);
}

void Owner::RunNextActorCall(Context& cx) {
  if (executing_ || runnable_calls_.empty()) return;
  TaskSpec spec = std::move(runnable_calls_.front());
  runnable_calls_.pop_front();
  executing_ = spec;
  current_task_ = spec.task;
  task_counter_ = 0;
  put_counter_ = 0;
  blocked_ = false;
  cx.Emit(EfRunTask{std::move(spec)});
}

}  // namespace dray
