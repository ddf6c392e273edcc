#include "core/gcs/control_service.h"

#include "core/common/probe.h"
#include "core/proto/codec.h"

namespace dray {

namespace {
struct JobsRow {
  JobId next_job = 1;
  std::vector<std::pair<JobId, Addr>> drivers;
  MSGPACK_DEFINE(next_job, drivers);
};
}  // namespace

ControlService::ControlService(ControlServiceConfig cfg) : cfg_(std::move(cfg)), actors_(&nodes_, cfg_.addr) {
  // A restart: the tables come back; what is not durable (health, the
  // resource view's numbers, infeasible demands) starts over, and every node
  // counts as just heard from.
  std::vector<const PersistRecord*> early_rows;
  for (const auto& r : cfg_.recovered) {
    std::string err;
    if (r.table == "nodes") {
      NodeView v;
      DRAY_ASSERT(Unpack(r.value.data(), r.value.size(), &v, &err), "an unreadable node row");
      nodes_[v.node] = v;
      health_[v.node] = Health{};
    } else if (r.table == "dead") {
      dead_[static_cast<NodeId>(std::stoul(r.key))] = r.value;
    } else if (r.table == "jobs") {
      JobsRow j;
      DRAY_ASSERT(Unpack(r.value.data(), r.value.size(), &j, &err), "an unreadable jobs row");
      next_job_ = j.next_job;
      drivers_ = {j.drivers.begin(), j.drivers.end()};
    } else if (r.table == "actors") {
      actors_.Restore(r.value);
    } else if (r.table == "early_subscribers") {
      early_rows.push_back(&r);
    }
  }
  // (After the actors: rows of actors registered since are gone already.)
  for (const PersistRecord* r : early_rows) actors_.RestoreEarly(std::stoull(r->key), r->value);
  actors_.TakeDirty();  // restored rows are on disk already
  actors_.TakeEarlyDirty();
}

void ControlService::Step(const Input& in, Context& cx) {
  StepInner(in, cx);
  PersistDirty(cx);
}

void ControlService::PersistDirty(Context& cx) {
  for (NodeId n : dirty_nodes_) {
    std::string key = std::to_string(n);
    auto it = nodes_.find(n);
    if (it != nodes_.end()) cx.Emit(EfPersist{"nodes", key, Pack(it->second), false});
    else cx.Emit(EfPersist{"nodes", key, "", true});
    auto d = dead_.find(n);
    if (d != dead_.end()) cx.Emit(EfPersist{"dead", key, d->second, false});
  }
  dirty_nodes_.clear();
  if (dirty_jobs_) {
    JobsRow j{next_job_, {drivers_.begin(), drivers_.end()}};
    cx.Emit(EfPersist{"jobs", "jobs", Pack(j), false});
    dirty_jobs_ = false;
  }
  for (uint64_t id : actors_.TakeDirty()) {
    std::string row = actors_.Row(id);
    cx.Emit(EfPersist{"actors", std::to_string(id), row, row.empty()});
  }
  for (uint64_t id : actors_.TakeEarlyDirty()) {
    std::string row = actors_.EarlyRow(id);
    cx.Emit(EfPersist{"early_subscribers", std::to_string(id), row, row.empty()});
  }
}

void ControlService::StepInner(const Input& in, Context& cx) {
  if (const auto* c = std::get_if<InCommand>(&in)) {
    if (std::holds_alternative<CmdStart>(c->cmd)) cx.SetTimer(kHealthTimer, cx.now() + cfg_.health_period_ns);
    return;
  }
  if (const auto* t = std::get_if<InTimer>(&in)) {
    if (t->id == kHealthTimer) HealthRound(cx);
    return;
  }
  const auto* d = std::get_if<InDeliver>(&in);
  if (!d) return;
  if (const auto* m = std::get_if<RegisterNode>(&d->msg)) {
    if (dead_.count(m->node) != 0) {  // a dead node's id is never reused
      ++fenced_messages_;
      DRAY_PROBE("gcs.fenced_message");
      return;
    }
    health_[m->node] = Health{};
    // A node that joins later hears of the nodes that died before it.
    for (const auto& [n, cause] : dead_) cx.Send(m->addr, Deaths{{}, {n}, cause});
    NodeView v;
    v.node = m->node;
    v.addr = m->addr;
    v.total = m->total;
    v.available = m->total;
    nodes_[m->node] = v;
    dirty_nodes_.insert(m->node);
    cx.Send(m->addr, LeaseGranted{0});  // registering is the node's first lease request
    Broadcast(cx, /*except=*/UINT32_MAX);  // the new node needs the whole view too
  } else if (const auto* m = std::get_if<HealthCheckAck>(&d->msg)) {
    // Only an answer to a ping shows that the node hears us: one that cannot
    // receive (a one-way partition) still speaks unasked (seq 0, its
    // watchdog), and must not stay alive by that.
    FromLiveNode(d->from, m->node, cx, /*sign_of_life=*/m->seq != 0);
  } else if (const auto* m = std::get_if<RenewLease>(&d->msg)) {
    // Granted only to a live node: it runs actors for a while longer. Asked
    // unasked too (every lease_renew_ns), so no sign of life either.
    if (FromLiveNode(d->from, m->node, cx, /*sign_of_life=*/false)) cx.Send(d->from, LeaseGranted{m->nonce});
  } else if (const auto* m = std::get_if<ResourceReport>(&d->msg)) {
    if (!FromLiveNode(d->from, m->node, cx)) return;
    auto it = nodes_.find(m->node);
    if (it == nodes_.end()) return;  // a report before registration: ignore
    it->second.available = m->available;
    it->second.queued = m->queued;
    if (m->infeasible.empty()) infeasible_.erase(m->node); else infeasible_[m->node] = m->infeasible;
    Broadcast(cx, m->node);
  } else if (const auto* m = std::get_if<RegisterJob>(&d->msg)) {
    drivers_[next_job_] = m->driver;
    dirty_jobs_ = true;
    cx.Send(m->driver, JobRegistered{next_job_++});
  } else if (const auto* m = std::get_if<Deaths>(&d->msg)) {
    Publish(*m, cx);
  } else if (const auto* m = std::get_if<RegisterActor>(&d->msg)) {
    actors_.OnRegister(d->from, *m, cx);
  } else if (const auto* m = std::get_if<GetActorInfo>(&d->msg)) {
    actors_.OnGetInfo(d->from, *m, cx);
  } else if (const auto* m = std::get_if<KillActor>(&d->msg)) {
    actors_.OnKill(*m, cx);
  } else if (const auto* m = std::get_if<TaskDone>(&d->msg)) {
    // A creation task's result, forwarded by the node that took the worker.
    if (d->from.proc == kNodeManagerProc && !dead_.count(d->from.node)) actors_.OnCreationDone(d->from, *m, cx);
  } else if (const auto* m = std::get_if<TaskFailed>(&d->msg)) {
    if (d->from.proc == kNodeManagerProc && !dead_.count(d->from.node)) actors_.OnCreationFailed(*m, cx);
  } else if (const auto* m = std::get_if<TaskPlaced>(&d->msg)) {
    actors_.OnCreationPlaced(*m, cx);
  }
}

// Whether a node's message comes from a live, registered node (and counts as
// a sign of life). A declared-dead node is fenced: ignored from then on.
bool ControlService::FromLiveNode(const Addr& from, NodeId claimed, Context& cx, bool sign_of_life) {
  if (from.node != claimed || from.proc != kNodeManagerProc) return false;
  if (dead_.count(claimed) != 0) {
    ++fenced_messages_;
    DRAY_PROBE("gcs.fenced_message");
    // It does not know: tell it, so that it fences itself.
    cx.Send(from, Deaths{{}, {claimed}, "you were declared dead: " + dead_.at(claimed)});
    return false;
  }
  auto h = health_.find(claimed);
  if (h == health_.end()) return false;
  if (sign_of_life) h->second.heard = true;
  return true;
}

// One health round: a node not heard from since the last round missed it;
// `health_misses` misses in a row and it is dead. Then ping every node.
void ControlService::HealthRound(Context& cx) {
  std::vector<NodeId> dead;
  for (auto& [n, h] : health_) {
    h.misses = h.heard ? 0 : h.misses + 1;
    h.heard = false;
    // Buggify: tolerate one miss more this time (detection one period later;
    // never sooner, so a lease always runs out before its node is declared dead).
    if (h.misses == cfg_.health_misses && DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "gcs.extra_health_miss")) continue;
    if (h.misses >= cfg_.health_misses) dead.push_back(n);
  }
  for (NodeId n : dead)
    DeclareDead(n,
                "node " + std::to_string(n) + " missed " + std::to_string(cfg_.health_misses) + " health checks (" +
                    std::to_string(cfg_.health_period_ns / 1'000'000) + " ms apart)",
                cx);
  ++health_seq_;
  for (const auto& [n, v] : nodes_) cx.Send(v.addr, HealthCheck{health_seq_});
  cx.SetTimer(kHealthTimer, cx.now() + cfg_.health_period_ns);
}

void ControlService::DeclareDead(NodeId n, const std::string& cause, Context& cx) {
  DRAY_PROBE("gcs.node_declared_dead");
  health_.erase(n);
  nodes_.erase(n);
  infeasible_.erase(n);
  dead_[n] = cause;
  dirty_nodes_.insert(n);
  Broadcast(cx, /*except=*/UINT32_MAX);
  Publish(Deaths{{}, {n}, cause}, cx);
}

// Every node (to forward to its workers) and every driver hears of deaths;
// actors on (or owned by) the dead restart or die.
void ControlService::Publish(const Deaths& m, Context& cx) {
  for (const auto& [id, v] : nodes_) cx.Send(v.addr, m);
  for (const auto& [job, driver] : drivers_) cx.Send(driver, m);
  actors_.OnDeaths(m, cx);
}

void ControlService::Broadcast(Context& cx, NodeId except) {
  ClusterView view;
  view.version = ++version_;
  view.nodes.reserve(nodes_.size());
  for (const auto& [id, v] : nodes_) view.nodes.push_back(v);
  // Buggify: the view sent twice (a node takes a view as it comes: a copy
  // changes nothing, as a client's resend would not).
  bool twice = DRAY_BUGGIFY(cfg_.buggify, cx.rng(), "gcs.view_sent_twice");
  for (const auto& [id, v] : nodes_) {
    if (id == except) continue;
    cx.Send(v.addr, view);
    if (twice) cx.Send(v.addr, view);
  }
}

void ControlService::CheckInvariants() const {
  DRAY_ASSERT(health_.size() == nodes_.size(), "every live node is health-checked");
  for (const auto& [n, cause] : dead_) DRAY_ASSERT(nodes_.count(n) == 0, "a dead node in the view");
  for (const auto& [id, v] : nodes_) {
    DRAY_ASSERT(v.node == id);
    DRAY_ASSERT(v.total.Contains(v.available), "a node reports more available than it has");
  }
  actors_.CheckInvariants();
}

}  // namespace dray
