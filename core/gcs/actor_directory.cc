#include "core/gcs/actor_directory.h"

#include <algorithm>

#include "core/common/probe.h"
#include "core/proto/codec.h"

namespace dray {


size_t ActorDirectory::alive() const {
  size_t n = 0;
  for (const auto& [id, e] : actors_) n += e.info.state == kActorAlive;
  return n;
}

const ActorInfo* ActorDirectory::Find(uint64_t actor) const {
  auto it = actors_.find(actor);
  return it == actors_.end() ? nullptr : &it->second.info;
}

void ActorDirectory::OnRegister(const Addr& from, const RegisterActor& m, Context& cx) {
  const ActorSpec& s = m.spec;
  if (actors_.count(s.actor)) {  // told twice: the answer stands
    cx.Send(from, ActorRegistered{s.actor, true, ""});
    return;
  }
  if (!s.name.empty()) {
    auto n = names_.find({s.job, s.name});
    if (n != names_.end()) {
      cx.Send(from, ActorRegistered{s.actor, false,
                                    "an actor named '" + s.name + "' already exists in job " + std::to_string(s.job)});
      return;
    }
    names_[{s.job, s.name}] = s.actor;
  }
  Entry& e = actors_[s.actor];
  dirty_.insert(s.actor);
  e.spec = s;
  e.spec.creation.owner = self_;
  e.info.actor = s.actor;
  e.info.found = true;
  e.info.state = kActorPending;
  e.info.owner = s.owner;
  e.info.class_name = s.class_name;
  e.info.max_task_retries = s.max_task_retries;
  e.subscribers.insert(s.owner);
  if (auto early = early_subscribers_.find(s.actor); early != early_subscribers_.end()) {
    e.subscribers.insert(early->second.begin(), early->second.end());
    early_subscribers_.erase(early);
    early_dirty_.insert(s.actor);
  }
  cx.Send(from, ActorRegistered{s.actor, true, ""});
  Schedule(e, cx);
}

// The creation task goes to the owner's node manager, which places it as it
// places any task (1 CPU by default to place it, none held while it runs).
void ActorDirectory::Schedule(Entry& e, Context& cx) {
  dirty_.insert(e.spec.actor);
  NodeId n = e.spec.owner.node;
  if (!nodes_->count(n)) {  // the owner's node is gone: so is the owner
    Die(e, "its owner " + e.spec.owner.Str() + " died with its node", cx);
    return;
  }
  TaskSpec spec = e.spec.creation;
  spec.attempt = e.info.incarnation;
  spec.incarnation = e.info.incarnation;
  spec.spill_count = 0;
  e.placing = true;
  e.placed = n;
  e.placed_hop = 0;
  cx.Send(Addr{n, kNodeManagerProc}, SubmitTask{std::move(spec)});
}

void ActorDirectory::OnCreationPlaced(const TaskPlaced& m, Context& cx) {
  auto it = actors_.find(m.task.v);
  if (it == actors_.end()) return;
  Entry& e = it->second;
  if (!e.placing || m.attempt != e.info.incarnation || m.hop <= e.placed_hop) return;
  dirty_.insert(e.spec.actor);
  e.placed = m.node;
  e.placed_hop = m.hop;
  if (!nodes_->count(m.node)) Restart(e, "its creation was placed on node " + std::to_string(m.node) + ", which died", cx);
}

void ActorDirectory::OnCreationDone(const Addr& from, const TaskDone& m, Context& cx) {
  auto it = actors_.find(m.task.v);
  bool current = it != actors_.end() && it->second.placing && m.attempt == it->second.info.incarnation &&
                 it->second.info.state != kActorDead;
  if (!current) {
    // An incarnation nobody wants any more (killed, restarted, dead meanwhile).
    DRAY_PROBE("actor.stale_incarnation_stopped");
    cx.Send(from, StopActor{m.task.v, m.attempt, "a newer incarnation replaced it, or the actor died"});
    return;
  }
  Entry& e = it->second;
  dirty_.insert(e.spec.actor);
  e.placing = false;
  const ReturnObject* r = m.returns.empty() ? nullptr : &m.returns[0];
  if (r && r->value.is_error) {
    ErrorRecord rec;
    std::string why = "its constructor failed";
    if (Unpack(r->value.data.data(), r->value.data.size(), &rec, nullptr))
      why = rec.kind == "TaskError" ? "its constructor threw " + rec.type + ": " + rec.message
                                    : "an argument of its constructor failed: " + rec.kind + ": " + rec.message;
    e.info.worker = m.worker;
    // A constructor that throws is not retried (as in Ray).
    Die(e, why, cx);
    return;
  }
  if (e.kill_pending) {
    // Killed (restart allowed) while it was being created: stop this
    // incarnation, and start the next once it is reported stopped.
    e.kill_pending = false;
    e.stopping = m.worker;
    cx.Send(from, StopActor{e.spec.actor, e.info.incarnation, e.kill_cause});
    Restart(e, e.kill_cause, cx, /*schedule=*/false);
    return;
  }
  e.info.state = kActorAlive;
  e.info.worker = m.worker;
  Publish(e, cx);
}

void ActorDirectory::OnCreationFailed(const TaskFailed& m, Context& cx) {
  auto it = actors_.find(m.task.v);
  if (it == actors_.end()) return;
  Entry& e = it->second;
  if (e.info.state == kActorDead || m.attempt != e.info.incarnation) return;
  e.kill_pending = false;
  if (m.kind == "ObjectLostError") {
    Die(e, "an argument of its constructor was lost: " + m.message, cx);
    return;
  }
  if (m.kind == "ActorUnavailableError") {
    // A node without a lease refused it: not the actor's failure.
    Restart(e, m.message, cx, /*schedule=*/true, /*count=*/false);
    return;
  }
  Restart(e, e.info.state == kActorAlive ? "its worker died: " + m.message : m.message, cx);
}

void ActorDirectory::OnGetInfo(const Addr& from, const GetActorInfo& m, Context& cx) {
  uint64_t id = m.actor;
  if (id == 0) {
    auto n = names_.find({m.job, m.name});
    if (n == names_.end()) {
      ActorInfo none;
      none.request = m.request;
      cx.Send(from, none);
      return;
    }
    id = n->second;
  }
  auto it = actors_.find(id);
  if (it == actors_.end()) {
    // Not registered yet: it will be, by its creator (or its creator dies,
    // which the caller hears of itself). Heard of once it is.
    DRAY_PROBE("actor.subscribed_before_registration");
    if (early_subscribers_[id].insert(from).second) early_dirty_.insert(id);
    return;
  }
  if (it->second.subscribers.insert(from).second) dirty_.insert(id);
  ActorInfo info = it->second.info;
  info.request = m.request;
  cx.Send(from, info);
}

void ActorDirectory::OnKill(const KillActor& m, Context& cx) {
  auto it = actors_.find(m.actor);
  if (it == actors_.end() || it->second.info.state == kActorDead) return;
  Entry& e = it->second;
  dirty_.insert(m.actor);
  if (m.no_restart) {
    DRAY_PROBE("actor.killed");
    Die(e, m.cause, cx);
    return;
  }
  DRAY_PROBE("actor.killed_restart");
  if (e.placing) {
    // Being created: one creation at a time. It is stopped and the actor
    // restarted once this one finishes (or fails).
    e.kill_pending = true;
    e.kill_cause = m.cause;
    return;
  }
  // The next incarnation starts once this one's worker stopped (its node
  // says so with a Deaths), so that two never run at once.
  if (e.info.state == kActorAlive && nodes_->count(e.info.worker.node)) e.stopping = e.info.worker;
  bool wait = e.stopping != Addr{};
  StopWorker(e, m.cause, cx);
  Restart(e, m.cause, cx, /*schedule=*/!wait);
}

void ActorDirectory::OnDeaths(const Deaths& m, Context& cx) {
  auto dead = [&](const Addr& a) {
    return std::find(m.procs.begin(), m.procs.end(), a) != m.procs.end() ||
           std::find(m.nodes.begin(), m.nodes.end(), a.node) != m.nodes.end();
  };
  for (auto it = early_subscribers_.begin(); it != early_subscribers_.end();) {
    auto& subs = it->second;
    for (auto s = subs.begin(); s != subs.end();) {
      if (!dead(*s)) { ++s; continue; }
      s = subs.erase(s);
      early_dirty_.insert(it->first);
    }
    it = subs.empty() ? early_subscribers_.erase(it) : std::next(it);
  }
  for (auto& [id, e] : actors_) {
    dirty_.insert(id);  // deaths are rare: every row is written again
    for (auto s = e.subscribers.begin(); s != e.subscribers.end();) s = dead(*s) ? e.subscribers.erase(s) : ++s;
    if (e.stopping != Addr{} && dead(e.stopping)) {
      e.stopping = {};
      if (e.info.state == kActorRestarting && !dead(e.spec.owner)) {
        Schedule(e, cx);
        continue;
      }
    }
    if (e.info.state == kActorDead) continue;
    if (dead(e.spec.owner)) {
      DRAY_PROBE("actor.owner_died");
      Die(e, "its owner " + e.spec.owner.Str() + " died: " + m.cause, cx);
    } else if (e.info.state == kActorAlive && dead(e.info.worker)) {
      DRAY_PROBE("actor.restart.worker_died");
      Restart(e, "its worker " + e.info.worker.Str() + " died: " + m.cause, cx);
    } else if (e.placing && dead(Addr{e.placed, kAnyProc})) {
      DRAY_PROBE("actor.restart.creation_node_died");
      Restart(e, "node " + std::to_string(e.placed) + " died while creating it: " + m.cause, cx);
    }
  }
}

// Restarted while restarts remain (max_restarts; -1 without limit).
void ActorDirectory::Restart(Entry& e, const std::string& cause, Context& cx, bool schedule, bool count) {
  int32_t max = e.spec.max_restarts;
  if (count && max >= 0 && e.restarts >= max) {
    Die(e, cause + " (no restarts left of " + std::to_string(max) + ")", cx);
    return;
  }
  DRAY_PROBE("actor.restarted");
  if (count) ++e.restarts;
  e.placing = false;
  e.kill_pending = false;
  ++e.info.incarnation;
  e.info.state = kActorRestarting;
  e.info.worker = {};
  e.info.cause = cause;
  Publish(e, cx);
  if (schedule) Schedule(e, cx);
}

void ActorDirectory::Die(Entry& e, const std::string& cause, Context& cx) {
  StopWorker(e, cause, cx);
  e.info.state = kActorDead;
  e.info.cause = cause;
  e.info.worker = {};
  e.placing = false;
  if (!e.spec.name.empty()) names_.erase({e.spec.job, e.spec.name});
  Publish(e, cx);
}

// The worker of the current incarnation (if it has one, on a live node)
// stops. A creation still out is stopped when its result arrives.
void ActorDirectory::StopWorker(Entry& e, const std::string& cause, Context& cx) {
  if (e.info.state != kActorAlive && e.info.worker == Addr{}) return;
  const Addr& w = e.info.worker;
  if (nodes_->count(w.node)) cx.Send(Addr{w.node, kNodeManagerProc}, StopActor{e.spec.actor, e.info.incarnation, cause});
}

void ActorDirectory::Publish(const Entry& e, Context& cx) {
  dirty_.insert(e.spec.actor);
  for (const Addr& s : e.subscribers) cx.Send(s, e.info);
}

namespace {
// An actor's durable row.
struct ActorRecord {
  ActorSpec spec;
  ActorInfo info;
  bool placing = false;
  NodeId placed = 0;
  uint32_t placed_hop = 0;
  int32_t restarts = 0;
  Addr stopping;
  bool kill_pending = false;
  std::string kill_cause;
  std::vector<Addr> subscribers;
  MSGPACK_DEFINE(spec, info, placing, placed, placed_hop, restarts, stopping, kill_pending, kill_cause, subscribers);
};
}  // namespace

std::vector<uint64_t> ActorDirectory::TakeDirty() {
  std::vector<uint64_t> out(dirty_.begin(), dirty_.end());
  dirty_.clear();
  return out;
}

std::string ActorDirectory::Row(uint64_t actor) const {
  auto it = actors_.find(actor);
  if (it == actors_.end()) return "";
  const Entry& e = it->second;
  ActorRecord r{e.spec,     e.info,         e.placing,      e.placed,  e.placed_hop, e.restarts,
                e.stopping, e.kill_pending, e.kill_cause,   {e.subscribers.begin(), e.subscribers.end()}};
  return Pack(r);
}

void ActorDirectory::Restore(const std::string& row) {
  ActorRecord r;
  std::string err;
  DRAY_ASSERT(Unpack(row.data(), row.size(), &r, &err), "an unreadable actor row");
  Entry& e = actors_[r.spec.actor];
  e.spec = r.spec;
  e.info = r.info;
  e.placing = r.placing;
  e.placed = r.placed;
  e.placed_hop = r.placed_hop;
  e.restarts = r.restarts;
  e.stopping = r.stopping;
  e.kill_pending = r.kill_pending;
  e.kill_cause = r.kill_cause;
  e.subscribers = {r.subscribers.begin(), r.subscribers.end()};
  if (!e.spec.name.empty() && e.info.state != kActorDead) names_[{e.spec.job, e.spec.name}] = e.spec.actor;
}

std::vector<uint64_t> ActorDirectory::TakeEarlyDirty() {
  std::vector<uint64_t> out(early_dirty_.begin(), early_dirty_.end());
  early_dirty_.clear();
  return out;
}

std::string ActorDirectory::EarlyRow(uint64_t actor) const {
  auto it = early_subscribers_.find(actor);
  if (it == early_subscribers_.end() || it->second.empty()) return "";
  return Pack(std::vector<Addr>(it->second.begin(), it->second.end()));
}

void ActorDirectory::RestoreEarly(uint64_t actor, const std::string& row) {
  std::vector<Addr> subs;
  std::string err;
  DRAY_ASSERT(Unpack(row.data(), row.size(), &subs, &err), "an unreadable early-subscribers row");
  DRAY_ASSERT(actors_.count(actor) == 0, "early subscribers of a registered actor");
  early_subscribers_[actor] = {subs.begin(), subs.end()};
}

void ActorDirectory::CheckInvariants() const {
  for (const auto& [id, e] : actors_) {
    DRAY_ASSERT(e.info.actor == id, "an actor filed under another id");
    DRAY_ASSERT(e.info.state != kActorAlive || !e.placing, "an alive actor still being created");
    DRAY_ASSERT(e.spec.max_restarts < 0 || e.restarts <= e.spec.max_restarts, "more restarts than allowed");
    DRAY_ASSERT(e.info.state != kActorDead || !e.info.cause.empty(), "a dead actor without a cause");
    DRAY_ASSERT(e.stopping == Addr{} || !e.placing, "a new incarnation placed before the old one stopped");
  }
  for (const auto& [id, subs] : early_subscribers_)
    DRAY_ASSERT(actors_.count(id) == 0 && !subs.empty(), "early subscribers of a registered actor, or none");
  for (const auto& [key, id] : names_) {
    auto it = actors_.find(id);
    DRAY_ASSERT(it != actors_.end() && it->second.info.state != kActorDead, "a name held by a dead actor");
  }
}

}  // namespace dray
