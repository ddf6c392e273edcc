// Steps one component by hand (etcd/raft style): feed an input, get the
// effects it emitted, with invariants checked after every step.
#pragma once
#include <utility>
#include <vector>

#include "core/common/step.h"

namespace dray::testing {

template <class C>
class Stepper {
 public:
  template <class Cfg>
  explicit Stepper(Cfg cfg, uint64_t seed = 1) : comp(std::move(cfg)), rng(seed) {}

  std::vector<Effect> Step(const Input& in) {
    std::vector<Effect> out;
    Context cx(now, &rng, &out);
    comp.Step(in, cx);
    comp.CheckInvariants();
    return out;
  }
  std::vector<Effect> Deliver(Addr from, Message m) { return Step(InDeliver{from, std::move(m)}); }
  std::vector<Effect> Command(dray::Command c) { return Step(InCommand{std::move(c)}); }
  std::vector<Effect> Timer(uint64_t id) { return Step(InTimer{id}); }

  C comp;
  Prng rng;
  TimeNs now = 0;
};

// Every effect of type E, in order.
template <class E>
std::vector<E> Effects(const std::vector<Effect>& effects) {
  std::vector<E> out;
  for (const auto& e : effects)
    if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
  return out;
}

// Every message of type M that was sent, with its destination.
template <class M>
std::vector<std::pair<Addr, M>> Sent(const std::vector<Effect>& effects) {
  std::vector<std::pair<Addr, M>> out;
  for (const auto& e : effects)
    if (const auto* s = std::get_if<EfSend>(&e))
      if (const auto* m = std::get_if<M>(&s->msg)) out.emplace_back(s->to, *m);
  return out;
}

inline ResourceSet Cpus(double n) {
  ResourceSet r;
  r.SetUnits("CPU", n);
  return r;
}

}  // namespace dray::testing
