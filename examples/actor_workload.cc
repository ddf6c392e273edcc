#include "actor_workload.h"

#include <dray/dray.h>

#include <map>
#include <stdexcept>

#include "examples.h"

namespace dray::workloads {

// An actor that records calls. Its answer is a pure function of the call,
// so the oracle knows it whatever the faults; its state (the last sequence
// number per caller) checks the order guarantee from the user's side.
class Ledger {
 public:
  static Ledger* Create(int id) { return new Ledger(id); }
  explicit Ledger(int id) : id_(id) {}
  int64_t Record(int caller, int seq, int64_t value) {
    // A caller task that is retried (its worker died) starts its calls over
    // at 1; otherwise each caller's calls arrive in its order.
    auto it = last_.find(caller);
    if (it != last_.end() && seq <= it->second && seq != 1)
      throw std::logic_error("ledger " + std::to_string(id_) + ": caller " + std::to_string(caller) + "'s call " +
                             std::to_string(seq) + " arrived after its call " + std::to_string(it->second));
    last_[caller] = seq;
    ++count_;
    // Some calls take a while, so that faults land in the middle of the run.
    dray::SleepFor(std::chrono::milliseconds(value % 5));
    return value * 2 + id_;
  }
  // The same with a large argument (it comes through the store).
  int64_t RecordMany(int caller, int seq, std::vector<int64_t> values) {
    int64_t sum = 0;
    for (int64_t v : values) sum += v;
    return Record(caller, seq, sum);
  }
  int64_t Count() const { return count_; }

 private:
  int id_;
  std::map<int, int> last_;
  int64_t count_ = 0;
};

namespace {
int64_t Expected(int64_t value, int id) { return value * 2 + id; }

// One caller's calls, spread over the ledgers; some values come as refs.
// Returns "" when every answer was right, else the first wrong one.
std::string CallMany(std::vector<dray::ActorHandle<Ledger>> ledgers, int caller, int calls, uint64_t seed) {
  examples::SplitMix64 rng(seed);
  std::vector<dray::ObjectRef<int64_t>> refs;
  std::vector<int64_t> want;
  std::vector<int> seq(ledgers.size(), 0);
  for (int i = 0; i < calls; ++i) {
    int k = static_cast<int>(rng.Next() % ledgers.size());
    int64_t value = static_cast<int64_t>(rng.Next() % 1000);
    auto task = ledgers[static_cast<size_t>(k)].Task(&Ledger::Record);
    uint64_t kind = rng.Next() % 8;
    if (kind == 0) {
      // 200 KiB: past the inline limit, so the actor's node fetches it.
      std::vector<int64_t> values(25'600, 1);
      values[0] = value;
      refs.push_back(ledgers[static_cast<size_t>(k)]
                         .Task(&Ledger::RecordMany)
                         .Remote(caller, ++seq[static_cast<size_t>(k)], dray::Put(values)));
      value += 25'599;
    } else if (kind < 3) {
      refs.push_back(task.Remote(caller, ++seq[static_cast<size_t>(k)], dray::Put(value)));
    } else {
      refs.push_back(task.Remote(caller, ++seq[static_cast<size_t>(k)], value));
    }
    want.push_back(Expected(value, k));
  }
  auto got = dray::Get(refs);
  for (size_t i = 0; i < got.size(); ++i)
    if (*got[i] != want[i])
      return "caller " + std::to_string(caller) + " call " + std::to_string(i) + ": got " + std::to_string(*got[i]) +
             ", expected " + std::to_string(want[i]);
  return "";
}
}  // namespace

DRAY_REMOTE(Ledger::Create, &Ledger::Record, &Ledger::RecordMany, &Ledger::Count, CallMany);

ActorResult RunActorWorkload(const ActorParams& p) {
  ActorResult r;
  examples::SplitMix64 rng(p.seed);
  std::vector<dray::ActorHandle<Ledger>> ledgers;
  for (int k = 0; k < p.actors; ++k) {
    // Restarted and retried without limit: every call ends with its value.
    auto creator = dray::Actor(Ledger::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1);
    if (k == 0) creator.SetName("ledger-0");
    ledgers.push_back(creator.Remote(k));
  }
  // Callers get the handles inside a value (a vector of handles).
  std::vector<dray::ObjectRef<std::string>> callers;
  for (int c = 1; c <= p.callers; ++c)
    callers.push_back(dray::Task(CallMany).Remote(ledgers, c, p.calls, rng.Next()));
  // The driver calls too (caller 0), through a handle found by name for one.
  auto named = dray::GetActor<Ledger>("ledger-0");
  if (!named) {
    r.error = "GetActor(\"ledger-0\") found nothing";
    return r;
  }
  std::vector<dray::ActorHandle<Ledger>> mine = ledgers;
  mine[0] = *named;
  std::string err = CallMany(mine, 0, p.calls / 2, rng.Next());
  if (p.kill_restart && p.actors > 1) ledgers[1].Kill(/*no_restart=*/false);
  // (Another caller number: each CallMany counts its own sequence numbers.)
  if (err.empty()) err = CallMany(mine, p.callers + 1, p.calls - p.calls / 2, rng.Next());
  r.calls = p.calls * (p.callers + 1);
  for (auto& c : callers) {
    std::string e = *dray::Get(c);
    if (err.empty() && !e.empty()) err = e;
  }
  r.ok = err.empty();
  r.error = err;
  return r;
}

}  // namespace dray::workloads
