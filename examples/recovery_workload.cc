#include "recovery_workload.h"

#include <dray/dray.h>
#include <dray/sim.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <functional>
#include <stdexcept>
#include <vector>

#include "examples.h"

namespace dray::workloads {

// An actor whose answers are a pure function of the call (the oracle knows
// them whatever restarts happened).
class Echo {
 public:
  static Echo* Create(int id, std::string pad) { return new Echo(id, pad.size()); }
  Echo(int id, size_t pad) : id_(id), pad_(pad) {}
  int64_t Twice(int64_t x) {
    dray::SleepFor(std::chrono::milliseconds(x % 3));  // calls in flight when faults land
    return 2 * x + id_ + static_cast<int64_t>(pad_);
  }

 private:
  int id_;
  size_t pad_;
};

namespace {

constexpr int kStoredBytes = 120 * 1024;  // past the 100 KiB inline limit: the value lives in a store
// The driver's own puts: enough bytes to fill a small store on the head, so
// that some are spilled there and read back for tasks elsewhere (a disk fault
// then loses a put whose owner, the driver, lives).
constexpr int kDriverPuts = 10;
constexpr int kDriverPutBytes = 256 * 1024;

std::string LeafValue(int i, int bytes) { return std::string(static_cast<size_t>(bytes), static_cast<char>('a' + i % 26)); }
int64_t UseValue(int i, const std::string& leaf) {
  return static_cast<int64_t>(leaf.size()) * 7 + i + (leaf.empty() ? 0 : leaf[0]);
}
int64_t EchoValue(int id, size_t pad, int64_t x) { return 2 * x + id + static_cast<int64_t>(pad); }

}  // namespace

std::string RecoveryLeaf(int i, int bytes) { return LeafValue(i, bytes); }
int64_t RecoveryUse(int i, std::string leaf) { return UseValue(i, leaf); }
std::string RecoverySlow(int i) {
  dray::SleepFor(std::chrono::milliseconds(20));
  return std::string(static_cast<size_t>(i % 7), 'p');
}
// A ref this worker owns (a put, or a task it submits), borrowed by the caller.
std::vector<ObjectRef<std::string>> RecoveryMakePut(int i, int bytes) { return {dray::Put(LeafValue(i, bytes))}; }
std::vector<ObjectRef<std::string>> RecoveryMakeReturn(int i, int bytes) {
  return {dray::Task(RecoveryLeaf).Remote(i, bytes)};
}
// An actor this worker owns, called once here, handed to the caller.
std::vector<ActorHandle<Echo>> RecoveryMakeActor(int i) {
  auto h = dray::Actor(Echo::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(i, std::string());
  int64_t got = *dray::Get(h.Task(&Echo::Twice).Remote(int64_t{i}));
  if (got != EchoValue(i, 0, i)) throw std::logic_error("echo " + std::to_string(i) + " answered " + std::to_string(got));
  return {h};
}
int64_t RecoveryCallEcho(ActorHandle<Echo> h, int64_t x) { return *dray::Get(h.Task(&Echo::Twice).Remote(x)); }
int64_t RecoverySharedUse(int i, std::string leaf) {
  dray::SleepFor(std::chrono::milliseconds(2 + i % 3));  // long enough that uses queue behind each other
  return UseValue(i, leaf);
}
// A put this worker makes and drops at once: only the tasks that use it (and
// their retries) hold it then. When the last use finishes, the worker frees
// it, while an older attempt of a use (buggify.owner.resubmit) may still wait
// for a worker where its copy was: node.store.arg_restore_before_dispatch.
int64_t RecoveryFanOut(int i, int bytes, int fan) {
  std::vector<ObjectRef<int64_t>> uses;
  {
    ObjectRef<std::string> shared = dray::Put(LeafValue(i, bytes));
    for (int f = 0; f < fan; ++f) uses.push_back(dray::Task(RecoverySharedUse).Remote(i + f, shared));
  }
  int64_t sum = 0;
  for (const auto& u : uses) sum += *dray::Get(u);
  return sum;
}
static int64_t FanOutValue(int i, int bytes, int fan) {
  int64_t sum = 0;
  for (int f = 0; f < fan; ++f) sum += UseValue(i + f, LeafValue(i, bytes));
  return sum;
}

DRAY_REMOTE(Echo::Create, &Echo::Twice, RecoveryLeaf, RecoveryUse, RecoverySlow, RecoveryMakePut, RecoveryMakeReturn,
            RecoveryMakeActor, RecoveryCallEcho, RecoverySharedUse, RecoveryFanOut);

namespace {

enum Kind {
  kLimitedLeaf, kWorkerPut, kWorkerReturn, kTaskOwnedActor, kKilledActor, kPendingArgActor, kFragileActor,
  kWorkerPutFanOut, kNumKinds
};
const char* const kKindNames[] = {"limited_leaf",      "worker_put",    "worker_return", "task_owned_actor",
                                  "killed_actor",      "pending_arg_actor", "fragile_actor", "worker_put_fan_out"};
constexpr int kFanOut = 6;  // uses of one worker's put: more than a node's CPUs, so some queue

// Whether injected faults could explain an error (something crashed, was cut
// off, or lost frames). Outside the simulator: never.
bool Faulted() {
  if (!dray::sim::IsSimulation()) return false;
  dray::sim::RunStats s = dray::sim::CurrentStats();
  return s.crashes + s.held + s.net_faults + s.frames_lost + s.disk_errors > 0;
}

// Whether an injected disk fault lost a spilled copy: a put object whose
// every copy was lost so is ObjectLostError (its owner lives; a put has no
// lineage).
bool DiskFaulted() { return dray::sim::IsSimulation() && dray::sim::CurrentStats().disk_errors > 0; }

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Unit {
  int i = 0;
  Kind kind = kLimitedLeaf;
  int bytes = 0;
  int retries = 0;
  bool drop_handle = false;
  ObjectRef<std::string> leaf, slow;
  ObjectRef<int64_t> use, call, after_kill, fan;
  ObjectRef<std::vector<ObjectRef<std::string>>> outer;
  ObjectRef<std::vector<ActorHandle<Echo>>> outer_actor;
  std::vector<ObjectRef<int64_t>> calls;
  std::optional<ActorHandle<Echo>> actor;
};

}  // namespace

RecoveryResult RunRecoveryWorkload(const RecoveryParams& p) {
  RecoveryResult res;
  examples::SplitMix64 rng(p.seed ^ 0x4ec0ULL);
  std::vector<Unit> units(static_cast<size_t>(std::max(p.units, 0)));
  std::vector<ObjectRef<std::string>> driver_puts;
  std::vector<ObjectRef<int64_t>> driver_put_uses;
  std::string err;
  bool killed_any = false;
  // `what` is the unit's outcome: "" a right value, else the error. Faults
  // must explain an error, and `allowed` must accept it.
  auto judge = [&](const Unit& u, const std::string& step, const std::string& what,
                   const std::function<bool(const std::string&)>& allowed) {
    if (what.empty() || !err.empty()) return;
    // A Kill ends its actor's worker process, and with it what that process
    // owned (it may have run one of our tasks before it hosted the actor).
    bool explained = Faulted() || (killed_any && Has(what, "killed by dray::Kill()"));
    if (explained && allowed(what)) {
      ++res.errors_accepted;
      return;
    }
    err = "recovery seed " + std::to_string(p.seed) + ": unit " + std::to_string(u.i) + " (" + kKindNames[u.kind] +
          ") " + step + ": " + what + (Faulted() ? "" : " (no fault was injected)");
  };
  // Runs `f`; returns "" or the error's text (with its class).
  auto outcome = [](const std::function<void()>& f) -> std::string {
    try {
      f();
      return "";
    } catch (const dray::OwnerDiedError& e) {
      return std::string("OwnerDiedError ") + e.what();
    } catch (const dray::ObjectLostError& e) {
      return std::string("ObjectLostError ") + e.what();
    } catch (const dray::WorkerCrashedError& e) {
      return std::string("WorkerCrashedError ") + e.what();
    } catch (const dray::ActorDiedError& e) {
      return std::string("ActorDiedError ") + e.what();
    } catch (const dray::ActorUnavailableError& e) {
      return std::string("ActorUnavailableError ") + e.what();
    } catch (const dray::TaskError& e) {
      return std::string("TaskError ") + e.what();
    } catch (const std::exception& e) {
      return std::string("Error ") + e.what();
    }
  };
  auto wrong = [](const std::string& what, int64_t got, int64_t want) {
    return what + ": got " + std::to_string(got) + ", expected " + std::to_string(want);
  };
  auto out_of_retries = [](int i) {
    return [i](const std::string& w) { return Has(w, "'leaf#" + std::to_string(i) + "'") && Has(w, "no retries left"); };
  };
  auto actor_lost = [](const std::string& w) {
    return w.rfind("ActorDiedError", 0) == 0 || w.rfind("ActorUnavailableError", 0) == 0;
  };

  try {
    for (int j = 0; j < kDriverPuts; ++j) driver_puts.push_back(dray::Put(LeafValue(1000 + j, kDriverPutBytes)));
    // Submit every unit's first stage.
    for (size_t k = 0; k < units.size(); ++k) {
      Unit& u = units[k];
      u.i = static_cast<int>(k);
      u.kind = static_cast<Kind>(rng.Next() % kNumKinds);
      u.bytes = rng.Next() % 4 == 0 ? static_cast<int>(rng.Next() % 100) : kStoredBytes;
      u.retries = static_cast<int>(rng.Next() % 2);
      u.drop_handle = rng.Next() % 2 == 0;
      switch (u.kind) {
        case kLimitedLeaf:
          u.leaf = dray::Task(RecoveryLeaf).SetName("leaf#" + std::to_string(u.i)).SetMaxRetries(u.retries).Remote(u.i, u.bytes);
          break;
        case kWorkerPut:
          u.outer = dray::Task(RecoveryMakePut).Remote(u.i, u.bytes);
          break;
        case kWorkerReturn:
          u.outer = dray::Task(RecoveryMakeReturn).Remote(u.i, u.bytes);
          break;
        case kTaskOwnedActor:
          u.outer_actor = dray::Task(RecoveryMakeActor).Remote(u.i);
          break;
        case kKilledActor:
          u.actor = dray::Actor(Echo::Create).SetMaxRestarts(0).Remote(u.i, std::string());
          u.call = u.actor->Task(&Echo::Twice).Remote(int64_t{u.i});
          break;
        case kPendingArgActor: {
          // The constructor waits for an argument: the handle is used (or
          // dropped) before the actor is registered.
          u.slow = dray::Task(RecoverySlow).Remote(u.i);
          auto h = dray::Actor(Echo::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(u.i, u.slow);
          if (!u.drop_handle) {
            u.call = dray::Task(RecoveryCallEcho).Remote(h, int64_t{u.i});
            u.actor = h;
          }
          break;
        }
        case kFragileActor:
          u.actor = dray::Actor(Echo::Create).SetMaxRestarts(1).SetMaxTaskRetries(0).Remote(u.i, std::string());
          for (int c = 0; c < 4; ++c) u.calls.push_back(u.actor->Task(&Echo::Twice).Remote(int64_t{c}));
          break;
        case kWorkerPutFanOut:
          u.fan = dray::Task(RecoveryFanOut).Remote(u.i, kStoredBytes, kFanOut);
          break;
        case kNumKinds:
          break;
      }
    }
    // Let the first stage finish (without fetching the leaves: their only
    // copies stay where they were made), and kill what is to be killed.
    std::vector<ObjectRef<std::string>> leaves;
    for (const Unit& u : units)
      if (u.kind == kLimitedLeaf) leaves.push_back(u.leaf);
    if (!leaves.empty()) dray::Wait(leaves, static_cast<int>(leaves.size()));
    for (Unit& u : units) {
      if (u.kind != kKilledActor) continue;
      std::string w = outcome([&] {
        int64_t got = *dray::Get(u.call);
        if (got != EchoValue(u.i, 0, u.i)) throw std::logic_error(wrong("call", got, EchoValue(u.i, 0, u.i)));
      });
      judge(u, "call before Kill", w, actor_lost);  // max_restarts 0: a fault may kill it
      u.actor->Kill(/*no_restart=*/true);
      killed_any = true;
      u.after_kill = u.actor->Task(&Echo::Twice).Remote(int64_t{u.i + 1});
    }
    // Faults land on owners and stores meanwhile.
    dray::SleepFor(std::chrono::milliseconds(300));
    // Second stage.
    for (int j = 0; j < kDriverPuts; ++j)
      driver_put_uses.push_back(dray::Task(RecoveryUse).Remote(1000 + j, driver_puts[static_cast<size_t>(j)]));
    for (Unit& u : units) {
      if (u.kind == kLimitedLeaf) u.use = dray::Task(RecoveryUse).Remote(u.i, u.leaf);
      if (u.kind == kTaskOwnedActor) {
        std::string w = outcome([&] {
          auto hs = *dray::Get(u.outer_actor);
          if (hs.size() != 1) throw std::logic_error("RecoveryMakeActor returned " + std::to_string(hs.size()) + " handles");
          u.actor = hs[0];
          u.call = u.actor->Task(&Echo::Twice).Remote(int64_t{u.i + 1});
        });
        judge(u, "make the actor", w, [](const std::string&) { return false; });  // retried without limit
      }
    }
    // The driver's puts: their values, or, where a disk fault lost a spilled
    // copy, ObjectLostError saying the object was put (also for a task that
    // read it).
    auto put_lost = [](const std::string& x) { return DiskFaulted() && Has(x, "ObjectLostError") && Has(x, "was put"); };
    for (int j = 0; j < kDriverPuts && err.empty(); ++j) {
      std::string want = LeafValue(1000 + j, kDriverPutBytes);
      std::string w = outcome([&] {
        int64_t got = *dray::Get(driver_put_uses[static_cast<size_t>(j)]);
        if (got != UseValue(1000 + j, want)) throw std::logic_error(wrong("use of a driver's put", got, UseValue(1000 + j, want)));
      });
      if (!w.empty() && !put_lost(w))
        err = "recovery seed " + std::to_string(p.seed) + ": use of the driver's put " + std::to_string(j) + ": " + w;
      w = outcome([&] {
        std::string v = *dray::Get(driver_puts[static_cast<size_t>(j)]);
        if (v != want) throw std::logic_error("driver's put of " + std::to_string(v.size()) + " bytes");
      });
      if (w.empty()) continue;
      if (put_lost(w)) ++res.errors_accepted;
      else if (err.empty()) err = "recovery seed " + std::to_string(p.seed) + ": the driver's put " + std::to_string(j) + ": " + w;
    }
    // Check every outcome.
    for (Unit& u : units) {
      if (!err.empty()) break;
      switch (u.kind) {
        case kLimitedLeaf: {
          std::string w = outcome([&] {
            std::string v = *dray::Get(u.leaf);
            if (v != LeafValue(u.i, u.bytes)) throw std::logic_error("leaf value of " + std::to_string(v.size()) + " bytes");
          });
          judge(u, "leaf (max_retries " + std::to_string(u.retries) + ")", w, out_of_retries(u.i));
          w = outcome([&] {
            int64_t got = *dray::Get(u.use);
            int64_t want = UseValue(u.i, LeafValue(u.i, u.bytes));
            if (got != want) throw std::logic_error(wrong("use", got, want));
          });
          judge(u, "use of the leaf", w, out_of_retries(u.i));
          break;
        }
        case kWorkerPut:
        case kWorkerReturn: {
          std::vector<ObjectRef<std::string>> inner;
          std::string w = outcome([&] { inner = *dray::Get(u.outer); });
          judge(u, "outer task", w, [](const std::string&) { return false; });  // retried without limit
          if (!w.empty() || inner.size() != 1) {
            if (w.empty() && err.empty()) err = "recovery: unit " + std::to_string(u.i) + " returned no ref";
            break;
          }
          w = outcome([&] {
            std::string v = *dray::Get(inner[0]);
            if (v != LeafValue(u.i, u.bytes)) throw std::logic_error("borrowed value of " + std::to_string(v.size()) + " bytes");
          });
          // The worker that owns it may have died: its borrowers get
          // OwnerDiedError. A put whose spilled copy a disk fault lost (its
          // owner alive) is ObjectLostError; a returned object is rebuilt.
          bool put = u.kind == kWorkerPut;
          judge(u, "borrowed ref", w, [put](const std::string& x) {
            return x.rfind("OwnerDiedError", 0) == 0 ||
                   (put && DiskFaulted() && x.rfind("ObjectLostError", 0) == 0 && Has(x, "was put"));
          });
          break;
        }
        case kTaskOwnedActor: {
          if (u.call.IsNull()) break;
          std::string w = outcome([&] {
            int64_t got = *dray::Get(u.call);
            if (got != EchoValue(u.i, 0, u.i + 1)) throw std::logic_error(wrong("call", got, EchoValue(u.i, 0, u.i + 1)));
          });
          // An actor dies with its owner (the task's worker).
          judge(u, "call to a task-owned actor", w, actor_lost);
          break;
        }
        case kKilledActor: {
          std::string w = outcome([&] { (void)dray::Get(u.after_kill); });
          if (w.rfind("ActorDiedError", 0) != 0 && err.empty())
            err = "recovery seed " + std::to_string(p.seed) + ": unit " + std::to_string(u.i) +
                  " (killed_actor): a call after Kill(no_restart) gave " + (w.empty() ? "a value" : w) +
                  ", not ActorDiedError";
          break;
        }
        case kPendingArgActor: {
          if (u.drop_handle) break;
          std::string w = outcome([&] {
            int64_t got = *dray::Get(u.call);
            int64_t want = EchoValue(u.i, static_cast<size_t>(u.i % 7), u.i);
            if (got != want) throw std::logic_error(wrong("call", got, want));
          });
          judge(u, "call before registration", w, [](const std::string&) { return false; });  // restarts without limit
          break;
        }
        case kFragileActor: {
          for (int c = 0; c < static_cast<int>(u.calls.size()); ++c) {
            std::string w = outcome([&] {
              int64_t got = *dray::Get(u.calls[static_cast<size_t>(c)]);
              if (got != EchoValue(u.i, 0, c)) throw std::logic_error(wrong("call", got, EchoValue(u.i, 0, c)));
            });
            judge(u, "call " + std::to_string(c) + " (max_task_retries 0)", w, actor_lost);
          }
          break;
        }
        case kWorkerPutFanOut: {
          std::string w = outcome([&] {
            int64_t got = *dray::Get(u.fan);
            int64_t want = FanOutValue(u.i, kStoredBytes, kFanOut);
            if (got != want) throw std::logic_error(wrong("sum of the uses", got, want));
          });
          // Retried without limit; its own put has no lineage, so only a disk
          // fault that lost a spilled copy may fail it (ObjectLostError, put).
          judge(u, "uses of a worker's put", w, [](const std::string& x) {
            return DiskFaulted() && Has(x, "ObjectLostError") && Has(x, "was put");
          });
          break;
        }
        case kNumKinds:
          break;
      }
    }
  } catch (const std::exception& e) {
    if (err.empty()) err = "recovery seed " + std::to_string(p.seed) + ": " + e.what();
  }
  units.clear();  // drop every ref and handle
  driver_puts.clear();
  driver_put_uses.clear();
  res.units = p.units;
  res.error = err;
  res.ok = err.empty();
  return res;
}

}  // namespace dray::workloads
