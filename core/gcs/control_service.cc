#include "core/gcs/control_service.h"

namespace dray {

void ControlService::Step(const Input& in, Context& cx) {
  const auto* d = std::get_if<InDeliver>(&in);
  if (!d) return;  // no timers or commands yet
  if (const auto* m = std::get_if<RegisterNode>(&d->msg)) {
    NodeView v;
    v.node = m->node;
    v.addr = m->addr;
    v.total = m->total;
    v.available = m->total;
    nodes_[m->node] = v;
    Broadcast(cx, /*except=*/UINT32_MAX);  // the new node needs the whole view too
  } else if (const auto* m = std::get_if<ResourceReport>(&d->msg)) {
    auto it = nodes_.find(m->node);
    if (it == nodes_.end()) return;  // a report before registration: ignore
    it->second.available = m->available;
    it->second.queued = m->queued;
    if (m->infeasible.empty()) infeasible_.erase(m->node); else infeasible_[m->node] = m->infeasible;
    Broadcast(cx, m->node);
  } else if (const auto* m = std::get_if<RegisterJob>(&d->msg)) {
    drivers_[next_job_] = m->driver;
    cx.Send(m->driver, JobRegistered{next_job_++});
  } else if (const auto* m = std::get_if<Deaths>(&d->msg)) {
    Publish(*m, cx);
  }
}

// Every node (to forward to its workers) and every driver hears of deaths.
void ControlService::Publish(const Deaths& m, Context& cx) {
  for (const auto& [id, v] : nodes_) cx.Send(v.addr, m);
  for (const auto& [job, driver] : drivers_) cx.Send(driver, m);
}

void ControlService::Broadcast(Context& cx, NodeId except) {
  ClusterView view;
  view.version = ++version_;
  view.nodes.reserve(nodes_.size());
  for (const auto& [id, v] : nodes_) view.nodes.push_back(v);
  for (const auto& [id, v] : nodes_)
    if (id != except) cx.Send(v.addr, view);
}

void ControlService::CheckInvariants() const {
  for (const auto& [id, v] : nodes_) {
    DRAY_ASSERT(v.node == id);
    DRAY_ASSERT(v.total.Contains(v.available), "a node reports more available than it has");
  }
}

}  // namespace dray
