#include "sim/world.h"

#include <sqlite3.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/api/backend.h"
#include "core/api/user_calls.h"
#include "core/proto/codec.h"
#include "dray/errors.h"
#include "dray/remote.h"
#include "sim/trace.h"

namespace dray::sim {

using internal::ToObjectValue;
using internal::ToRefData;
using internal::ToRefInfo;
using internal::ToValueData;

namespace {
// Thrown inside a killed process's thread to unwind it from the blocking call
// (InvokeTask lets it through).
struct ProcessKilled : internal::ProcessEnded {};

uint64_t PairKey(const Addr& a, const Addr& b) { return Mix64(a.Key()) ^ (b.Key() * 0x9e3779b97f4a7c15ULL); }

// A node's cut links (NodeNet::cut).
constexpr uint8_t kCutOut = 1;    // it cannot send to other nodes
constexpr uint8_t kCutIn = 2;     // it cannot receive from other nodes
constexpr uint8_t kClogged = 4;   // both, until unclogged (independent of partitions)
// Network operations carried by Ev::kNet events.
enum NetOpCode : uint64_t { kOpHeal = 1, kOpClog, kOpUnclog, kOpSpikeEnd, kOpSlowEnd, kOpFrameWindowEnd };

uint64_t FrameBytes(const std::string& header, const std::vector<Buf>& att) {
  uint64_t n = header.size();
  for (const auto& a : att) n += a.size();
  return n;
}
}  // namespace

// ---- user threads: the ProcessRuntime of a simulated driver or worker ----

struct World::UserThread final : internal::ProcessRuntime {
  World* w;
  Proc* p;
  // The driver runs on the user's thread and is handed the baton through a
  // semaphore; a worker is a fiber that the loop switches to and from.
  bool fiber = false;
  std::binary_semaphore sem{0};
  ucontext_t ctx{};
  Stack stack;
  bool parked = false;
  bool resume_pending = false;
  bool killed = false;
  bool exited = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::map<uint64_t, EfCompleteWait> completions;
  std::optional<EfCommandResult> result;
  std::deque<TaskSpec> tasks;
  internal::ActorSlot actor;  // the actor this worker hosts, if any
  std::optional<uint64_t> in_call;  // the actor whose call this worker runs now
  std::string running;  // the name of the task being run, if any
  std::string last;     // ... or run last
  uint64_t next_waiter = 1;
  uint64_t waiting_for = 0;  // the waiter of the Get or Wait it is parked in (0: none)
  TimeNs waiting_since = 0;

  UserThread(World* world, Proc* proc) : w(world), p(proc) {}

  // Gives the baton back to the event loop and sleeps until handed it again.
  void Park() {
    if (killed) throw ProcessKilled{};  // user code that caught the unwinding and waits again
    parked = true;
    if (fiber) {
      swapcontext(&ctx, &w->loop_ctx_);
    } else {
      w->loop_sem_.release();
      sem.acquire();
    }
    if (killed) throw ProcessKilled{};
  }

  EfCommandResult Run(dray::Command cmd) {
    if (killed) throw ProcessKilled{};
    result.reset();
    w->StepProc(*p, InCommand{std::move(cmd)}, 0);
    DRAY_ASSERT(result.has_value(), "a command produced no result");
    EfCommandResult r = std::move(*result);
    result.reset();
    return r;
  }
  void Notify(dray::Command cmd) {
    if (killed || !*alive) return;
    w->StepProc(*p, InCommand{std::move(cmd)}, 0);
  }
  EfCompleteWait WaitFor(uint64_t waiter) {
    // The liveness bound (docs/sim.md): a wait still pending this long after
    // faults stopped fails the run. Only in runs with faults.
    if (w->liveness_ns_ > 0 && waiter != kStartWaiter && completions.count(waiter) == 0) {
      waiting_for = waiter;
      waiting_since = w->now_;
      TimeNs from = std::max<TimeNs>(w->now_, w->spec_.faults_until_ms * 1'000'000);
      w->Push(Event{from + w->liveness_ns_, 0, Ev::kLiveness, p->addr.Key(), waiter, 0, true});
    }
    while (true) {
      auto it = completions.find(waiter);
      if (it != completions.end()) {
        EfCompleteWait c = std::move(it->second);
        completions.erase(it);
        waiting_for = 0;
        return c;
      }
      if (w->deadlock_) {
        waiting_for = 0;
        if (!w->liveness_report_.empty()) throw Error(w->liveness_report_ + w->StuckReport());
        throw Error("dray sim: deadlock at virtual time " + std::to_string(w->now_) + " ns: process " +
                    p->addr.Str() + " waits for objects, but nothing in the cluster can run." + w->StuckReport());
      }
      Park();
    }
  }

  internal::RefData Submit(const internal::TaskOptions& opts, std::vector<internal::ArgData> args) override {
    EfCommandResult r = Run(CmdSubmit{internal::TaskCallSpec(opts, args, w->spec_.task_retries)});
    return ToRefData({r.ids.at(0), p->addr});
  }
  internal::RefData CreateActor(const internal::ActorOptions& o, std::vector<internal::ArgData> args) override {
    ActorSpec as = internal::ActorCreationSpec(o, args, w->spec_.actor_restarts, w->spec_.actor_task_retries);
    uint64_t waiter = next_waiter++;
    EfCommandResult r = Run(CmdCreateActor{waiter, std::move(as)});
    internal::RefData anchor = ToRefData({r.ids.at(0), p->addr});
    if (!o.name.empty()) {  // a name must be free: wait for the control service
      EfCompleteWait c = WaitFor(waiter);
      if (!c.values.empty()) internal::ThrowErrorValue(ToValueData(c.values[0]));
    }
    return anchor;
  }
  internal::RefData SubmitActorTask(const internal::RefData& anchor, const internal::TaskOptions& opts,
                                    std::vector<internal::ArgData> args) override {
    EfCommandResult r =
        Run(CmdSubmit{internal::ActorCallSpec(anchor, opts, args), Addr{anchor.owner_node, anchor.owner_proc}});
    return ToRefData({r.ids.at(0), p->addr});
  }
  std::optional<std::pair<internal::RefData, std::string>> GetActor(const std::string& name) override {
    uint64_t waiter = next_waiter++;
    Run(CmdGetActor{waiter, name});
    return internal::FoundActor(WaitFor(waiter), name);
  }
  void KillActor(const internal::RefData& anchor, bool no_restart) override {
    Notify(CmdKillActor{anchor.task, no_restart});
  }
  internal::ActorSlot& Actor() override { return actor; }
  internal::RefData Put(internal::ValueData value) override {
    EfCommandResult r = Run(CmdPut{ToObjectValue(value)});
    return ToRefData({r.ids.at(0), p->addr});
  }
  internal::WaitOutcome Get(const std::vector<internal::RefData>& refs, int64_t timeout_ns) override {
    uint64_t waiter = next_waiter++;
    Notify(internal::GetCommand(waiter, refs, timeout_ns));
    return internal::GetOutcome(WaitFor(waiter));
  }
  internal::WaitOutcome Wait(const std::vector<internal::RefData>& refs, int num_returns, int64_t timeout_ns) override {
    uint64_t waiter = next_waiter++;
    Notify(internal::WaitCommand(waiter, refs, num_returns, timeout_ns));
    return internal::WaitOutcomeOf(WaitFor(waiter));
  }
  void AddRef(const internal::RefData& r) override { Notify(CmdAddRef{ToRefInfo(r)}); }
  void RemoveRef(const internal::RefData& r) override { Notify(CmdRemoveRef{ToRefInfo(r)}); }
  std::shared_ptr<const bool> AliveFlag() override { return alive; }
  int64_t NowNs() override { return w->now_ - w->init_time_; }
  void SleepNs(int64_t ns) override {
    if (killed) throw ProcessKilled{};
    TimeNs until = w->now_ + std::max<int64_t>(ns, 0);
    w->Push(Event{until, 0, Ev::kResume, p->addr.Key()});
    while (w->now_ < until) {
      if (w->deadlock_)
        throw Error(w->liveness_report_.empty() ? std::string("dray sim: deadlock while sleeping")
                                                : w->liveness_report_ + w->StuckReport());
      Park();
    }
  }

  // A worker's life, on its fiber: run each task it is handed until it is
  // stopped. Returning ends the fiber and resumes the loop (uc_link).
  static void FiberEntry(unsigned lo, unsigned hi) {
    auto* u = reinterpret_cast<UserThread*>((static_cast<uintptr_t>(hi) << 32) | lo);
    u->WorkerMain();
  }
  void WorkerMain() {
    try {
      if (killed) throw ProcessKilled{};
      while (true) {
        while (tasks.empty()) Park();
        TaskSpec spec = std::move(tasks.front());
        tasks.pop_front();
        running = spec.name;
        last = spec.name;
        if (spec.actor_kind != kNotActor) {  // a constructor counts as running the actor too
          w->ActorCallStarts(p->addr, spec);
          in_call = spec.actor;
        }
        RunTask(spec);
        if (in_call) w->ActorCallEnds(p->addr, *in_call);
        in_call.reset();
        running.clear();
      }
    } catch (const ProcessKilled&) {
    } catch (const std::exception& e) {
      // Only the simulator's own errors (a deadlock report) get here: tasks
      // catch their user's exceptions. The worker ends; the run goes on.
      std::fprintf(stderr, "dray sim: worker %s stopped: %s\n", p->addr.Str().c_str(), e.what());
    }
    *alive = false;
    exited = true;
  }

  void RunTask(const TaskSpec& spec) {
    internal::ValueData result = internal::InvokeTask(spec);
    CmdTaskReturned ret{spec.task, {ToObjectValue(result)}};
    Notify(std::move(ret));
  }
};

// ---- the world ----

World::World(SimSpec spec)
    : spec_(std::move(spec)),
      root_(spec_.seed),
      net_rng_(root_.Fork("network")),
      fault_rng_(root_.Fork("faults")),
      net_fault_rng_(root_.Fork("faults.net")),
      frame_rng_(root_.Fork("network.frames")),
      disk_rng_(root_.Fork("faults.disk.reads")),
      os_rng_(root_.Fork("os.worker_deaths")) {
  kinds_ = spec_.fault_kinds;
  net_fault_every_ns_ = spec_.net_fault_every_us * 1000;
  loss_pm_ = kinds_ & kFaultLoss ? spec_.loss_permille : 0;
  dup_pm_ = kinds_ & kFaultDuplicate ? spec_.dup_permille : 0;
  reorder_pm_ = kinds_ & kFaultReorder ? spec_.reorder_permille : 0;
  rto_ns_ = spec_.rto_us * 1000;
  if (spec_.swarm) {
    // The fault mix is drawn from the seed (docs/fault-tolerance.md).
    static constexpr int64_t kEvery[] = {2'000, 10'000, 50'000, 200'000};
    static constexpr uint32_t kNodeShare[] = {0, 100, 300};
    static constexpr uint32_t kPartitionShare[] = {0, 50, 150};
    spec_.fault_every_us = kEvery[fault_rng_.Below(4)];
    node_crash_permille_ = kNodeShare[fault_rng_.Below(3)];
    partition_permille_ = kPartitionShare[fault_rng_.Below(3)];
    kinds_ = kFaultWorkerCrash | (node_crash_permille_ ? kFaultNodeCrash : 0u) |
             (partition_permille_ ? kFaultPartition : 0u);
    // The network's faults, from a PRNG of their own: the crash stream above
    // draws exactly what it drew before they existed.
    Prng mix = root_.Fork("faults.mix");
    if (mix.Chance(2, 3)) {
      for (uint32_t k : {kFaultOneWayPartition, kFaultLatencySpike, kFaultSlowNode, kFaultClog})
        if (mix.Chance(1, 2)) kinds_ |= k;
      static constexpr int64_t kNetEvery[] = {20'000, 100'000, 500'000};
      net_fault_every_ns_ = kNetEvery[mix.Below(3)] * 1000;
    }
    if (mix.Chance(1, 3)) {
      static constexpr uint32_t kLoss[] = {0, 5, 20, 50};
      static constexpr uint32_t kDup[] = {0, 10, 50};
      static constexpr uint32_t kReorder[] = {0, 20, 100};
      static constexpr int64_t kRto[] = {20'000'000, 200'000'000};
      loss_pm_ = kLoss[mix.Below(4)];
      dup_pm_ = kDup[mix.Below(3)];
      reorder_pm_ = kReorder[mix.Below(3)];
      rto_ns_ = kRto[mix.Below(2)];
      kinds_ |= (loss_pm_ ? kFaultLoss : 0u) | (dup_pm_ ? kFaultDuplicate : 0u) | (reorder_pm_ ? kFaultReorder : 0u);
      lossy_ = true;  // sequenced even when every rate drew 0: the layer itself is under test
    }
    if (mix.Chance(1, 2)) kinds_ |= kFaultBuggify;
    // Control-service restarts, from a PRNG of their own as well.
    if (root_.Fork("faults.gcs").Chance(1, 2)) kinds_ |= kFaultGcsRestart;
    // A small object store (eviction, spilling) for a quarter of the seeds,
    // from a PRNG of its own too.
    if (root_.Fork("faults.store").Chance(1, 4)) kinds_ |= kFaultSmallStore;
    // Disk errors for half of those (only a small store spills), from a PRNG
    // of their own: a restore fails (an I/O error), losing that copy, with
    // the drawn chance while faults last.
    if (kinds_ & kFaultSmallStore) {
      Prng disk = root_.Fork("faults.disk");
      static constexpr uint32_t kDiskErrors[] = {100, 300, 1000};
      if (disk.Chance(1, 2)) {
        kinds_ |= kFaultDiskError;
        disk_error_pm_ = kDiskErrors[disk.Below(3)];
      }
    }
  } else {
    // Listed kinds share the crash stream equally (a worker crash takes what
    // is left).
    uint32_t n = 0;
    for (uint32_t k : {kFaultWorkerCrash, kFaultNodeCrash, kFaultPartition}) n += (kinds_ & k) ? 1 : 0;
    if (n > 0) {
      uint32_t share = 1000 / n;
      node_crash_permille_ = kinds_ & kFaultNodeCrash ? share : 0;
      partition_permille_ = kinds_ & kFaultPartition ? share : 0;
      if (!(kinds_ & kFaultWorkerCrash)) {
        if (partition_permille_) partition_permille_ = 1000 - node_crash_permille_;
        else node_crash_permille_ = 1000;
      }
    }
  }
  lossy_ = lossy_ || (kinds_ & (kFaultLoss | kFaultDuplicate | kFaultReorder)) != 0;
  if (!spec_.swarm && (kinds_ & kFaultDiskError)) disk_error_pm_ = spec_.disk_error_permille;
  // The liveness bound (docs/sim.md), enforced in runs with faults.
  if (kinds_ != 0 || !spec_.script.empty()) liveness_ns_ = LivenessBoundMs(spec_) * 1'000'000;
  // A scenario's frame-fault windows need sequenced connections from the start.
  for (const ScriptedFault& f : spec_.script) lossy_ = lossy_ || IsFrameFault(f.kind);
  store_bytes_ = spec_.store_kb ? spec_.store_kb << 10 : spec_.store_mb << 20;
  if (kinds_ & kFaultSmallStore) {
    static constexpr uint64_t kSmall[] = {512 << 10, 1 << 20, 2 << 20};
    store_bytes_ = kSmall[root_.Fork("faults.store.size").Below(3)];
  }
  stats_.fault_kinds = kinds_;
  if (!spec_.trace.empty()) {
    trace_ = TraceWriter::Open(spec_.trace, {{"seed", std::to_string(spec_.seed)},
                                             {"spec", FormatSimSpec(spec_)},
                                             {"nodes", std::to_string(spec_.nodes)},
                                             {"dray_version", "0.1.0"},
                                             {"kind", "sim"}});
  }
}

World::~World() {
  if (loop_.joinable()) Stop();
  if (gcs_db_) sqlite3_close(gcs_db_);
  for (auto& [k, p] : procs_)
    if (p->user && p->user->stack.map) free_stacks_.push_back(p->user->stack);
  for (const Stack& s : free_stacks_) munmap(s.map, s.map_size);
}

World::Proc& World::AddProc(Addr addr, std::unique_ptr<Component> comp, uint64_t seed,
                            const std::string& config_bytes) {
  auto p = std::make_unique<Proc>();
  p->addr = addr;
  p->comp = std::move(comp);
  p->rng = Prng(seed);  // from the component's config, so a replay can rebuild it
  Proc& ref = *p;
  DRAY_ASSERT(procs_.count(addr.Key()) == 0, "two processes at one address");
  procs_.emplace(addr.Key(), std::move(p));
  if (trace_) trace_->Create(seq_, now_, addr, ref.comp->Kind(), config_bytes);
  return ref;
}

internal::ProcessRuntime* World::StartDriver() {
  gcs_ = Addr{0, kControlServiceProc};
  {
    ControlServiceConfig c{gcs_, root_.Fork("gcs").seed()};
    c.health_period_ns = spec_.health_period_ms * 1'000'000;
    c.health_misses = spec_.health_misses;
    if (kinds_ & kFaultBuggify) c.buggify.seed = root_.Fork("buggify").seed() | 1;  // as the nodes'
    gcs_cfg_ = c;
    DRAY_ASSERT(sqlite3_open(":memory:", &gcs_db_) == SQLITE_OK, "open the control service's SQLite tables");
    DRAY_ASSERT(sqlite3_exec(gcs_db_,
                             "CREATE TABLE rows (tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
                             "PRIMARY KEY (tbl, key))",
                             nullptr, nullptr, nullptr) == SQLITE_OK,
                "create the control service's SQLite table");
    Proc& g = AddProc(gcs_, std::make_unique<ControlService>(c), c.seed, Pack(c));
    gcs_comp_ = static_cast<ControlService*>(g.comp.get());
    Push(Event{0, 0, Ev::kStart, gcs_.Key()});
  }
  for (uint32_t n = 0; n < spec_.nodes; ++n) AddNodeManager(next_node_++);
  driver_ = Addr{0, kFirstUserProc};
  OwnerConfig oc{driver_, Addr{0, kNodeManagerProc}, gcs_, false, root_.Fork("driver").seed()};
  oc.inline_limit = spec_.inline_kb << 10;
  if (kinds_ & kFaultBuggify) oc.buggify.seed = root_.Fork("buggify").seed() | 1;
  Proc& d = AddProc(driver_, std::make_unique<Owner>(oc), oc.seed, Pack(oc));
  d.owner = static_cast<Owner*>(d.comp.get());
  d.user = std::make_unique<UserThread>(this, &d);
  if (kinds_ & (kFaultWorkerCrash | kFaultNodeCrash | kFaultPartition))
    Push(Event{1 + static_cast<TimeNs>(fault_rng_.Below(static_cast<uint64_t>(2 * spec_.fault_every_us * 1000))), 0,
               Ev::kFault, 0});
  if (kinds_ & (kFaultOneWayPartition | kFaultLatencySpike | kFaultSlowNode | kFaultClog))
    Push(Event{1 + static_cast<TimeNs>(net_fault_rng_.Below(static_cast<uint64_t>(2 * net_fault_every_ns_))), 0,
               Ev::kNetFault, 0});
  if (kinds_ & kFaultGcsRestart) {
    // One control-service crash during the fault phase, down 0.5, 2 or 5 s.
    Prng g = root_.Fork("faults.gcs.when");
    static constexpr TimeNs kDown[] = {500'000'000, 2'000'000'000, 5'000'000'000};
    TimeNs at = 1 + static_cast<TimeNs>(g.Below(static_cast<uint64_t>(std::max<int64_t>(spec_.faults_until_ms, 1) * 1'000'000)));
    Push(Event{at, 0, Ev::kGcs, 0, 0});
    Push(Event{at + kDown[g.Below(3)], 0, Ev::kGcs, 0, 1});
  }
  for (size_t i = 0; i < spec_.script.size(); ++i)
    Push(Event{std::max<TimeNs>(1, spec_.script[i].AtNs()), 0, Ev::kScript, 0, i});
  // The driver starts once the nodes had a moment to register.
  Push(Event{spec_.latency_us * 1000 * 4, 0, Ev::kStart, driver_.Key()});
  internal::SetCurrentRuntime(d.user.get());
  loop_ = std::thread([this] { LoopMain(); });
  d.user->WaitFor(kStartWaiter);
  init_time_ = now_;
  return d.user.get();
}

World::Proc& World::AddNodeManager(NodeId n) {
  NodeManagerConfig c;
  c.node = n;
  c.gcs = gcs_;
  c.total.SetUnits("CPU", n == 0 && spec_.head_cpus >= 0 ? spec_.head_cpus : spec_.cpus);
  if (spec_.gpus > 0) c.total.SetUnits("GPU", spec_.gpus);
  c.total.SetUnits("memory", 4.0 * (1 << 30));
  c.total.SetUnits("node:" + std::to_string(n), 1);
  c.store_capacity_bytes = store_bytes_;
  c.chunk_bytes = spec_.chunk_kb << 10;
  // The actor lease: two thirds of the time it takes to declare a node dead.
  c.lease_ns = static_cast<TimeNs>(spec_.health_period_ms) * 1'000'000 * spec_.health_misses * 2 / 3;
  c.lease_renew_ns = std::max<TimeNs>(c.lease_ns / 3, 1'000'000);
  c.seed = root_.Fork(1000 + n).seed();
  // Buggify: one seed per run, so a site is on (or off) on every node alike.
  if (kinds_ & kFaultBuggify) c.buggify.seed = root_.Fork("buggify").seed() | 1;
  if (node_net_.size() <= n) node_net_.resize(n + 1);
  Proc& p = AddProc(Addr{n, kNodeManagerProc}, std::make_unique<NodeManager>(c), c.seed, Pack(c));
  p.node = static_cast<NodeManager*>(p.comp.get());
  Push(Event{now_, 0, Ev::kStart, p.addr.Key()});
  return p;
}

void World::Push(Event e) {
  e.seq = ++seq_;
  if (!e.background) ++fg_pending_;
  if (e.at < now_) e.at = now_;
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::move(e));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = std::move(e);
  }
  const Event& in = slots_[slot];
  queue_.push(Key{in.at, in.seq, slot});
}

World::Proc* World::Find(uint64_t key) {
  auto it = procs_.find(key);
  return it == procs_.end() ? nullptr : it->second.get();
}

void World::LoopMain() {
  loop_sem_.acquire();  // the driver parks to hand over the baton
  while (true) {
    if (stop_requested_) break;
    if (quiet_requested_ && (Idle() || queue_.top().at > quiet_deadline_)) {
      quiet_requested_ = false;
      quiet_reached_ = true;
      Handoff(*Find(driver_.Key()));
      continue;
    }
    if (Idle() || !liveness_report_.empty()) {
      // Nothing can happen any more while the driver waits: a deadlock; or a
      // wait outlived the liveness bound (the same report, with its cause).
      deadlock_ = true;
      Handoff(*Find(driver_.Key()));
      if (!stop_requested_) {
        std::fprintf(stderr, "dray sim: the driver kept waiting after a deadlock was reported\n");
        break;
      }
      continue;
    }
    uint32_t slot = queue_.top().slot;
    queue_.pop();
    Event e = std::move(slots_[slot]);
    free_slots_.push_back(slot);
    if (!e.background) --fg_pending_;
    now_ = e.at;
    RunOne(e);
  }
  // Stop every worker: each unwinds from where it is parked.
  for (auto& [key, p] : procs_)
    if (p->user && key != driver_.Key()) Kill(*p->user);
  loop_done_ = true;
  Proc* d = Find(driver_.Key());
  d->user->parked = false;
  d->user->sem.release();
}

void World::Handoff(Proc& p) {
  UserThread& u = *p.user;
  DRAY_ASSERT(u.parked, "handing the baton to a running thread");
  u.parked = false;
  if (!u.fiber) {
    u.sem.release();
    loop_sem_.acquire();
    return;
  }
  internal::SetCurrentRuntime(&u);
  swapcontext(&loop_ctx_, &u.ctx);
  internal::SetCurrentRuntime(nullptr);
  if (u.exited && u.stack.map) {
    free_stacks_.push_back(u.stack);
    u.stack = {};
  }
}

// Unwinds a worker from where it is parked (ProcessKilled) and ends its fiber.
void World::Kill(UserThread& u) {
  DRAY_ASSERT(u.fiber, "only workers are killed");
  if (u.exited) return;
  u.killed = true;
  *u.alive = false;
  if (u.in_call) ActorCallEnds(u.p->addr, *u.in_call);
  u.in_call.reset();
  DRAY_ASSERT(u.parked, "killing a running worker");
  Handoff(*u.p);
  DRAY_ASSERT(u.exited, "a killed worker did not exit");
}

World::Stack World::TakeStack() {
  if (!free_stacks_.empty()) {
    Stack s = free_stacks_.back();
    free_stacks_.pop_back();
    return s;
  }
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  Stack s;
  s.map_size = page + ((spec_.stack_kb << 10) + page - 1) / page * page;
  void* m = mmap(nullptr, s.map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                 -1, 0);
  if (m == MAP_FAILED)
    throw Error(std::string("dray sim: cannot map a ") + std::to_string(spec_.stack_kb) +
                " KiB worker stack: " + std::strerror(errno) + " (" + std::to_string(stacks_mapped_) +
                " stacks mapped)");
  s.map = static_cast<char*>(m);
  // The guard page: a worker that overflows its stack faults here instead of
  // writing over another one.
  DRAY_ASSERT(mprotect(s.map, page, PROT_NONE) == 0, "mprotect of a stack guard page");
  ++stacks_mapped_;
  return s;
}

void World::Wake(Proc& p) {
  if (!p.user || p.user->resume_pending) return;
  p.user->resume_pending = true;
  Push(Event{now_, 0, Ev::kResume, p.addr.Key()});
}

void World::RunOne(Event& e) {
  switch (e.kind) {
    case Ev::kFault:
      InjectFault();
      return;
    case Ev::kScript:
      RunScripted(spec_.script.at(e.a));
      return;
    case Ev::kLiveness:
      CheckLiveness(e.proc, e.a);
      return;
    case Ev::kGcs:
      if (e.a == 0) ControlServiceDown(); else ControlServiceUp();
      return;
    case Ev::kNetFault:
      InjectNetFault();
      return;
    case Ev::kNet:
      NetOp(e.a, static_cast<NodeId>(e.proc), e.b);
      return;
    case Ev::kXmit:
      // The retransmit timer of a lost frame: the sender sends it again.
      Transmit(std::move(e), 0);
      return;
    default:
      break;
  }
  Proc* p = Find(e.proc);
  if (!p) return;
  switch (e.kind) {
    case Ev::kDeliver:
      Deliver(*p, e);
      return;
    case Ev::kTimer:
    case Ev::kStart:
    case Ev::kResume:
      Gate(*p, e);
      return;
    case Ev::kDrain: {
      p->drain_pending = false;
      if (p->backlog.empty()) return;
      if (now_ < p->busy_until && node_net_[p->addr.node].step_ns > 0) {
        p->drain_pending = true;
        Push(Event{p->busy_until, 0, Ev::kDrain, p->addr.Key(), 0, 0, true});
        return;
      }
      Event next = std::move(p->backlog.front());
      p->backlog.pop_front();
      if (!next.background) --backlog_fg_;
      Dispatch(*p, next);
      if (!p->backlog.empty() && !p->drain_pending) {
        p->drain_pending = true;
        Push(Event{std::max(now_, p->busy_until), 0, Ev::kDrain, p->addr.Key(), 0, 0, true});
      }
      return;
    }
    case Ev::kReap:
      if (p->user) Kill(*p->user);
      for (const Event& q : p->backlog) backlog_fg_ -= q.background ? 0 : 1;
      ahead_fg_ -= p->ahead_fg;
      procs_.erase(e.proc);
      return;
    case Ev::kCrash:
      if (p->node) {
        CrashNodeNow(p->addr.node);
        return;
      }
      CrashWorker(*p, "crashed (injected fault)");
      return;
    case Ev::kFault:
    case Ev::kScript:
    case Ev::kGcs:
    case Ev::kNet:
    case Ev::kNetFault:
    case Ev::kXmit:
    case Ev::kLiveness:
      return;  // handled before the process lookup
  }
}

// A frame reached p's host. A cut link holds it (a connection retransmits
// until the cut heals, so it arrives then, in order); a sequenced connection
// (frame faults on) drops duplicates and keeps frames that overtook a gap
// until the gap is filled, so that p sees every message once, in order.
void World::Deliver(Proc& p, Event& e) {
  NodeId from_node = static_cast<NodeId>(e.a >> 32);
  if (!p.alive) {
    if (e.chan_seq != 0) {
      // Nobody will read this connection again.
      auto it = p.recv.find(e.a);
      if (it != p.recv.end()) {
        for (const auto& [n, f] : it->second.ahead)
          if (!f.background) {
            --p.ahead_fg;
            --ahead_fg_;
          }
        p.recv.erase(it);
      }
    }
    return;
  }
  if (cut_nodes_ != 0 && from_node != p.addr.node) {
    const NodeNet& f = node_net_[from_node];
    const NodeNet& t = node_net_[p.addr.node];
    bool out = (f.cut & (kCutOut | kClogged)) != 0;
    if (out || (t.cut & (kCutIn | kClogged)) != 0) {
      // What a node declared dead meanwhile sends is ignored once it arrives.
      ++stats_.held;
      held_[out ? from_node : p.addr.node].push_back(std::move(e));
      return;
    }
  }
  if (e.chan_seq == 0) {
    Gate(p, e);
    return;
  }
  RecvChan& c = p.recv[e.a];
  if (e.chan_seq < c.next || c.ahead.count(e.chan_seq) != 0) return;  // a duplicate
  if (e.chan_seq > c.next) {
    ++stats_.frames_reordered;
    if (!e.background) {
      ++p.ahead_fg;
      ++ahead_fg_;
    }
    uint64_t n = e.chan_seq;
    c.ahead.emplace(n, std::move(e));
    return;
  }
  ++c.next;
  Gate(p, e);
  // Frames that were waiting for this one follow it at once, as a socket
  // hands over everything buffered behind a filled gap.
  while (p.alive && !c.ahead.empty() && c.ahead.begin()->first == c.next) {
    Event n = std::move(c.ahead.begin()->second);
    c.ahead.erase(c.ahead.begin());
    if (!n.background) {
      --p.ahead_fg;
      --ahead_fg_;
    }
    ++c.next;
    Gate(p, n);
  }
}

// A slow node's process takes step_ns per step; what arrives while it is busy
// (or while earlier inputs still wait) joins its backlog, in order.
void World::Gate(Proc& p, Event& e) {
  if (slow_nodes_ == 0 || (p.backlog.empty() && (now_ >= p.busy_until || node_net_[p.addr.node].step_ns == 0))) {
    Dispatch(p, e);
    return;
  }
  ++stats_.deferred;
  if (!e.background) ++backlog_fg_;
  p.backlog.push_back(std::move(e));
  if (!p.drain_pending) {
    p.drain_pending = true;
    Push(Event{std::max(now_, p.busy_until), 0, Ev::kDrain, p.addr.Key(), 0, 0, true});
  }
}

void World::Dispatch(Proc& p, Event& e) {
  if (gcs_down_ && p.addr == gcs_) {
    // Down: what is sent to it waits for its restart; its old timers die.
    if (e.kind == Ev::kDeliver) {
      ++stats_.held;
      gcs_held_.push_back(std::move(e));
    }
    return;
  }
  switch (e.kind) {
    case Ev::kDeliver: {
      if (!p.alive) return;
      InDeliver in;
      std::string err;
      if (!DecodeFrame(e.bytes.data(), e.bytes.size(), e.attachments, &in.msg, &err)) {
        std::fprintf(stderr, "dray sim: dropped a message to %s: %s\n", p.addr.Str().c_str(), err.c_str());
        return;
      }
      in.from = Addr{static_cast<NodeId>(e.a >> 32), static_cast<uint32_t>(e.a)};
      if (const auto* td = std::get_if<TaskDone>(&in.msg))
        for (const auto& r : td->returns)
          // (A value holding refs is per attempt: the refs' owner is the
          // attempt's worker. The owner keeps the first; recovery swarm seed 22.)
          if (!r.stored && r.value.contained.empty()) CheckObjectValue(r.id, r.value);
      ++stats_.messages;
      uint64_t h = DeliveryHash(in.from, e.b);
      StepProc(p, Input{std::move(in)}, h);
      return;
    }
    case Ev::kTimer: {
      if (!p.alive) return;
      auto it = p.timer_gen.find(e.a);
      if (it == p.timer_gen.end() || it->second != e.b) return;  // cancelled or re-armed
      p.timer_gen.erase(it);
      StepProc(p, InTimer{e.a}, 0);
      return;
    }
    case Ev::kStart:
      if (p.alive) StepProc(p, InCommand{CmdStart{}}, 0);
      return;
    case Ev::kResume:
      if (!p.user) return;
      p.user->resume_pending = false;
      if (p.alive && p.user->parked && !p.user->exited) Handoff(p);
      return;
    default:
      DRAY_ASSERT(false, "only inputs are dispatched to a process");
  }
}

void World::StepProc(Proc& p, const Input& in, uint64_t input_hash) {
  std::vector<Effect> effects;
  effects.swap(effects_);
  effects.clear();
  Context cx(now_, &p.rng, &effects);
  p.comp->Step(in, cx);
  if (slow_nodes_ != 0) {
    // A slow node: the step takes virtual time; its messages leave at its end.
    TimeNs step = node_net_[p.addr.node].step_ns;
    if (step > 0) p.busy_until = std::max(p.busy_until, now_) + step;
  }
  if (spec_.check_invariants) p.comp->CheckInvariants();
  ++stats_.steps;
  sends_.clear();
  uint64_t eh = HashEffectsKeepSends(effects, &sends_);
  if (input_hash == 0) input_hash = InputHash(in);
  stats_.trace_hash = ChainHash(stats_.trace_hash, now_, p.addr, input_hash, eh);
  if (trace_) trace_->Step(seq_, now_, p.addr, p.comp->Kind(), in, eh);
  ExecEffects(p, effects);
  effects.clear();
  if (effects_.capacity() < effects.capacity()) effects_.swap(effects);
}

void World::ExecEffects(Proc& p, std::vector<Effect>& effects) {
  size_t next_send = 0;
  for (auto& eff : effects) {
    std::visit(
        [&](auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, EfSend>) {
            DRAY_ASSERT(next_send < sends_.size(), "a send that was not encoded");
            EncodedSend& s = sends_[next_send++];
            bool background = std::holds_alternative<HealthCheck>(e.msg) ||
                              std::holds_alternative<HealthCheckAck>(e.msg) ||
                              std::holds_alternative<RenewLease>(e.msg) || std::holds_alternative<LeaseGranted>(e.msg);
            Send(p.addr, e.to, std::move(s.frame), s.hash, background);
          } else if constexpr (std::is_same_v<E, EfSetTimer>) {
            uint64_t gen = ++p.timer_gen[e.id];
            Event ev{std::max(e.at, now_), 0, Ev::kTimer, p.addr.Key(), e.id, gen};
            ev.background = (p.addr == gcs_ && e.id == ControlService::kHealthTimer) ||
                            (p.node && (e.id == NodeManager::kWatchdogTimer || e.id == NodeManager::kLeaseTimer ||
                                        e.id == NodeManager::kLeaseExpiryTimer));
            Push(std::move(ev));
          } else if constexpr (std::is_same_v<E, EfCancelTimer>) {
            p.timer_gen.erase(e.id);
          } else if constexpr (std::is_same_v<E, EfStartWorker>) {
            CreateWorker(e.worker);
          } else if constexpr (std::is_same_v<E, EfStopWorker>) {
            Proc* w = Find(e.worker.Key());
            if (w && w->alive) {
              w->alive = false;
              Push(Event{now_, 0, Ev::kReap, e.worker.Key()});
            }
          } else if constexpr (std::is_same_v<E, EfRunTask>) {
            DRAY_ASSERT(p.user, "RunTask for a process without user code");
            p.user->tasks.push_back(std::move(e.spec));
            Wake(p);
          } else if constexpr (std::is_same_v<E, EfCompleteWait>) {
            DRAY_ASSERT(p.user, "CompleteWait for a process without user code");
            uint64_t w = e.waiter;
            p.user->completions[w] = std::move(e);
            if (p.user->parked) Wake(p);
          } else if constexpr (std::is_same_v<E, EfCommandResult>) {
            DRAY_ASSERT(p.user, "CommandResult for a process without user code");
            p.user->result = std::move(e);
          } else if constexpr (std::is_same_v<E, EfPersist>) {
            DRAY_ASSERT(p.addr == gcs_, "only the control service persists");
            Persist(e);
          } else if constexpr (std::is_same_v<E, EfSpill>) {
            DRAY_ASSERT(p.node, "only a node manager spills");
            auto [slot, fresh] = disks_[p.addr.node].emplace(e.key, std::move(e.data));
            DRAY_ASSERT(fresh, "a spill key written twice");
            ++stats_.spills;
          } else if constexpr (std::is_same_v<E, EfRestore>) {
            DRAY_ASSERT(p.node, "only a node manager restores");
            Restore(p, e);
          } else if constexpr (std::is_same_v<E, EfDeleteSpill>) {
            DRAY_ASSERT(p.node, "only a node manager deletes spill files");
            disks_[p.addr.node].erase(e.key);
            ++stats_.spill_deletes;
          }
        },
        eff);
  }
}

TimeNs World::Latency(NodeId from, NodeId to, uint64_t bytes) {
  int64_t base = spec_.latency_us * 1000;
  if (from == to) return base / 10 + static_cast<TimeNs>(net_rng_.Below(static_cast<uint64_t>(base / 20) + 1));
  // Latency, jitter and a 10 Gbit/s link.
  return base + static_cast<TimeNs>(net_rng_.Below(static_cast<uint64_t>(base / 2) + 1)) +
         static_cast<TimeNs>(bytes * 8 / 10);
}

void World::Send(const Addr& from, const Addr& to, Frame frame, uint64_t message_hash, bool background) {
  TimeNs extra = 0;
  if (slow_nodes_ != 0) {
    // A slow sender's message leaves when its step ends; a spike slows every
    // link of its node.
    const NodeNet& f = node_net_[from.node];
    extra = f.step_ns;
    if (from.node != to.node) extra += f.link_extra + node_net_[to.node].link_extra;
  }
  if (lossy_ && from.node != to.node) {
    // Frame faults: the connection numbers its frames; the receiver puts them
    // back in order (Deliver), whatever the network did to them.
    Event e{now_, 0, Ev::kDeliver, to.Key(), from.Key(), message_hash, background, std::move(frame.header),
            std::move(frame.attachments)};
    e.chan_seq = ++send_seq_[PairKey(from, to)];
    Transmit(std::move(e), extra);
    return;
  }
  TimeNs at = now_ + Latency(from.node, to.node, frame.Bytes()) + extra;
  TimeNs& last = fifo_[PairKey(from, to)];
  if (at < last) at = last;  // each connection delivers in order, as TCP does
  last = at;
  Push(Event{at, 0, Ev::kDeliver, to.Key(), from.Key(), message_hash, background, std::move(frame.header),
             std::move(frame.attachments)});
}

// One transmission of a sequenced frame (frame faults on). While faults last
// it may be lost (the sender's retransmit timer sends it again after rto_us),
// duplicated (a second copy with its own latency), or held back (so later
// frames overtake it); every copy is then sequenced by the receiver.
void World::Transmit(Event e, TimeNs extra) {
  NodeId from = static_cast<NodeId>(e.a >> 32), to = static_cast<NodeId>(e.proc >> 32);
  if (slow_nodes_ != 0) extra += node_net_[from].link_extra + node_net_[to].link_extra;
  bool faulty = now_ < spec_.faults_until_ms * 1'000'000;
  // A scenario's window (loss, duplicate, reorder lines) adds its rates.
  uint32_t loss_pm = faulty ? loss_pm_ : 0, dup_pm = faulty ? dup_pm_ : 0, reorder_pm = faulty ? reorder_pm_ : 0;
  loss_pm = std::max(loss_pm, window_pm_[0]);
  dup_pm = std::max(dup_pm, window_pm_[1]);
  reorder_pm = std::max(reorder_pm, window_pm_[2]);
  if (loss_pm != 0 && frame_rng_.Below(1000) < loss_pm) {
    ++stats_.frames_lost;
    e.kind = Ev::kXmit;
    e.at = now_ + rto_ns_ + extra;
    Push(std::move(e));
    return;
  }
  uint64_t bytes = FrameBytes(e.bytes, e.attachments);
  if (dup_pm != 0 && frame_rng_.Below(1000) < dup_pm) {
    ++stats_.frames_duplicated;
    Event copy = e;  // the header is copied; attachments are shared, as on every delivery
    copy.kind = Ev::kDeliver;
    copy.at = now_ + Latency(from, to, bytes) + extra;
    Push(std::move(copy));
  }
  TimeNs lat = Latency(from, to, bytes) + extra;
  if (reorder_pm != 0 && frame_rng_.Below(1000) < reorder_pm)
    lat += static_cast<TimeNs>(frame_rng_.Below(static_cast<uint64_t>(spec_.latency_us) * 10'000 + 1));
  e.kind = Ev::kDeliver;
  e.at = now_ + lat;
  Push(std::move(e));
}

void World::CreateWorker(const Addr& addr) {
  OwnerConfig oc{addr, Addr{addr.node, kNodeManagerProc}, gcs_, true, root_.Fork(addr.Key()).seed()};
  oc.inline_limit = spec_.inline_kb << 10;
  if (kinds_ & kFaultBuggify) oc.buggify.seed = root_.Fork("buggify").seed() | 1;
  Proc& p = AddProc(addr, std::make_unique<Owner>(oc), oc.seed, Pack(oc));
  p.owner = static_cast<Owner*>(p.comp.get());
  p.user = std::make_unique<UserThread>(this, &p);
  UserThread* u = p.user.get();
  u->parked = true;  // until the first handoff starts the fiber
  u->fiber = true;
  u->stack = TakeStack();
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  DRAY_ASSERT(getcontext(&u->ctx) == 0, "getcontext");
  u->ctx.uc_stack.ss_sp = u->stack.map + page;
  u->ctx.uc_stack.ss_size = u->stack.map_size - page;
  u->ctx.uc_link = &loop_ctx_;  // where the fiber goes when WorkerMain returns
  auto bits = reinterpret_cast<uintptr_t>(u);
  makecontext(&u->ctx, reinterpret_cast<void (*)()>(&UserThread::FiberEntry), 2,
              static_cast<unsigned>(bits & 0xffffffffu), static_cast<unsigned>(bits >> 32));
  Push(Event{now_ + spec_.worker_start_us * 1000, 0, Ev::kStart, addr.Key()});
}

// A worker process dies: its user code unwinds, its state is gone, and its
// node manager hears of it as the operating system tells it (the child's
// exit, reaped by waitpid): a WorkerDied on a channel of its own, apart from
// the worker's connection, after a delay drawn from the seed (up to twice a
// local hop). So it may overtake what the worker sent before it died (its
// registration, a result), as on a real node.
void World::CrashWorker(Proc& p, const std::string& cause) {
  if (!p.alive || !p.user || !p.user->fiber) return;
  p.alive = false;
  Kill(*p.user);
  ++stats_.crashes;
  Frame f = EncodeFrame(Message{WorkerDied{p.addr, cause}});
  uint64_t h = HashFrame(f);
  const uint64_t local_ns = static_cast<uint64_t>(spec_.latency_us) * 1000 / 10;
  TimeNs at = now_ + static_cast<TimeNs>(os_rng_.Below(2 * local_ns + 1));
  Push(Event{at, 0, Ev::kDeliver, Addr{p.addr.node, kNodeManagerProc}.Key(), p.addr.Key(), h, false,
             std::move(f.header), std::move(f.attachments)});
  Push(Event{now_, 0, Ev::kReap, p.addr.Key()});
}

// faults=workers: every fault_every_us on average, until faults_until_ms,
// a worker drawn from the seed crashes (busy or idle alike).
// The whole node: its node manager (and store) and every worker on it. Its
// messages in flight are still delivered; those to it are dropped.
void World::CrashNodeNow(NodeId n) {
  std::vector<uint64_t> keys;
  for (auto& [k, q] : procs_)
    if (q->addr.node == n && q->alive) keys.push_back(k);
  for (uint64_t k : keys) {
    Proc& q = *procs_.at(k);
    q.alive = false;
    if (q.user) Kill(*q.user);
    Push(Event{now_, 0, Ev::kReap, k});
  }
  crashed_nodes_.push_back(n);
  disks_.erase(n);  // its spilled objects are lost with it
  stats_.crashes += 1;
}

// faults=workers / swarm: a fault every fault_every_us on average until
// faults_until_ms. A worker (busy or idle) crashes, or in a swarm, with the
// drawn probability, a whole node other than node 0, which returns at once as
// a new node (so the cluster keeps its size).
void World::InjectFault() {
  if (now_ >= spec_.faults_until_ms * 1'000'000) return;
  std::vector<NodeId> nodes;
  for (auto& [k, p] : procs_)
    if (p->alive && p->node && p->addr.node != 0) nodes.push_back(p->addr.node);
  uint64_t draw = nodes.empty() ? 1000 : fault_rng_.Below(1000);
  if (!nodes.empty() && draw < node_crash_permille_) {
    NodeId n = nodes[fault_rng_.Below(nodes.size())];
    RecordDrawn(ScriptedFault::kCrashNode, n, ScriptNodes());
    CrashNodeNow(n);
    AddNode();
  } else if (!nodes.empty() && draw < node_crash_permille_ + partition_permille_) {
    // Cut a node off, briefly (it stays a member) or past failure detection
    // (declared dead, fenced once healed); a new node keeps the cluster's size.
    NodeId n = nodes[fault_rng_.Below(nodes.size())];
    if ((node_net_[n].cut & (kCutOut | kCutIn)) == 0) {
      std::vector<NodeId> among = ScriptNodes();
      Partition(n);
      AddNode();
      TimeNs lasts = fault_rng_.Below(2) == 0 ? 1'000'000'000 : 25'000'000'000;
      RecordDrawn(ScriptedFault::kPartition, n, among, lasts);
      Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpHeal});
    }
  } else {
    std::vector<Proc*> workers;
    for (auto& [k, p] : procs_)
      if (p->alive && p->user && p->user->fiber) workers.push_back(p.get());
    if (!workers.empty()) {
      // Picked as a scripted crash_worker picks: live workers in address order.
      uint64_t i = fault_rng_.Below(workers.size());
      drawn_.push_back(ExactFault(now_, ScriptedFault::kCrashWorker, static_cast<uint32_t>(i)));
      CrashWorker(*workers[i], "crashed (injected fault)");
    }
  }
  TimeNs gap = 1 + static_cast<TimeNs>(fault_rng_.Below(static_cast<uint64_t>(2 * spec_.fault_every_us * 1000)));
  Push(Event{now_ + gap, 0, Ev::kFault, 0});
}

// Who waits for what, for a deadlock report.
std::string World::StuckReport() const {
  std::string out;
  for (const auto& [k, p] : procs_) {
    if (!p->alive) continue;
    std::string s = p->owner ? p->owner->Pending() : p->node ? p->node->Pending() : "";
    if (!s.empty()) out += "\n  " + p->addr.Str() + ":" + s;
  }
  return out;
}

// The liveness bound: the wait `waiter` of process `key` was registered
// liveness_ns_ after faults stopped (or after it began, if later). Still
// pending: the run fails, with the deadlock report naming who waits for what.
// A worker killed meanwhile, or the driver in RunUntilQuiet or shutting down,
// does not count.
void World::CheckLiveness(uint64_t key, uint64_t waiter) {
  Proc* p = Find(key);
  if (p == nullptr || !p->alive || !p->user || p->user->killed || p->user->exited) return;
  if (p->user->waiting_for != waiter || stop_requested_ || quiet_requested_ || !liveness_report_.empty()) return;
  const TimeNs ms = 1'000'000;
  liveness_report_ = "dray sim: liveness bound: at virtual time " + std::to_string(now_) + " ns, process " +
                     p->addr.Str() + " has waited for objects since " + std::to_string(p->user->waiting_since) +
                     " ns, longer than liveness_ms=" + std::to_string(liveness_ns_ / ms) + " after faults stopped (at " +
                     std::to_string(spec_.faults_until_ms) + " ms); with faults healed every Get must finish by then.";
  ++stats_.liveness_failures;
}

// Health checks alone never keep a run going, unless a crashed node has not
// been declared dead yet: then they are how the run goes on.
bool World::Idle() const {
  if (fg_pending_ > 0 || backlog_fg_ > 0) return false;
  // Frames waiting for a gap that is on its way (being retransmitted, or a
  // background frame still in flight); a gap a cut holds does not count.
  if (ahead_fg_ > 0 && cut_nodes_ == 0 && !queue_.empty()) return false;
  for (NodeId n : crashed_nodes_)
    if (!gcs_comp_->IsDead(n)) return queue_.empty();
  return true;
}

void World::CrashNode(NodeId n) {
  if (n == 0) throw Error("dray sim: node 0 runs the driver and the control service; crash another node");
  bool found = false;
  for (auto& [k, p] : procs_) found |= p->addr.node == n && p->addr.proc == kNodeManagerProc && p->alive;
  if (!found) throw Error("dray sim: CrashNode(" + std::to_string(n) + "): no such live node");
  Push(Event{now_, 0, Ev::kCrash, Addr{n, kNodeManagerProc}.Key()});
}

void World::CheckNode(NodeId n, const char* what) const {
  if (n == 0)
    throw Error(std::string("dray sim: node 0 runs the driver and the control service; ") + what + " another node");
  if (n >= next_node_) throw Error("dray sim: " + std::string(what) + " node " + std::to_string(n) + ": no such node");
}

void World::Partition(NodeId n, uint8_t cut) {
  CheckNode(n, "partition");
  DRAY_ASSERT(cut <= 2, "a cut is both, outgoing or incoming");
  uint8_t bits = cut == 1 ? kCutOut : cut == 2 ? kCutIn : kCutOut | kCutIn;
  if ((node_net_[n].cut & bits) == bits) return;
  SetCut(n, node_net_[n].cut | bits);
  // Until it is declared dead, the run goes on for its detection.
  if (std::find(crashed_nodes_.begin(), crashed_nodes_.end(), n) == crashed_nodes_.end()) crashed_nodes_.push_back(n);
}

// From the driver: the heal happens in the event loop, so that releasing what
// the cut held and lifting the cut are one step (nothing overtakes them).
void World::Heal(NodeId n) {
  if (n >= next_node_) return;
  Push(Event{now_, 0, Ev::kNet, n, kOpHeal});
}

void World::Clog(NodeId n, bool on) {
  CheckNode(n, on ? "clog" : "unclog");
  if (on) SetCut(n, node_net_[n].cut | kClogged);
  else Push(Event{now_, 0, Ev::kNet, n, kOpUnclog});
}

void World::SlowLinks(NodeId n, TimeNs extra) { SetSlowness(n, "SlowLinks", &NodeNet::link_extra, &NodeNet::spike_gen, extra); }

void World::SlowNode(NodeId n, TimeNs per_step) { SetSlowness(n, "SlowNode", &NodeNet::step_ns, &NodeNet::slow_gen, per_step); }

void World::SetSlowness(NodeId n, const char* what, TimeNs NodeNet::*field, uint64_t NodeNet::*gen, TimeNs value) {
  if (n >= next_node_) throw Error(std::string("dray sim: ") + what + "(" + std::to_string(n) + "): no such node");
  NodeNet& x = node_net_[n];
  auto slow = [&x] { return x.link_extra > 0 || x.step_ns > 0; };
  bool was = slow();
  x.*field = std::max<TimeNs>(value, 0);
  ++(x.*gen);
  bool is = slow();
  if (is && !was) ++slow_nodes_;
  if (was && !is) --slow_nodes_;
}

void World::SetCut(NodeId n, uint8_t cut) {
  NodeNet& x = node_net_[n];
  uint8_t old = x.cut;
  x.cut = cut;
  if (old == 0 && cut != 0) ++cut_nodes_;
  if (old != 0 && cut == 0) --cut_nodes_;
  if ((old & ~cut) != 0) Release(n);
}

// A link of n opened: what its cuts held is delivered now, in the order it
// arrived (frames still blocked by another cut wait there, in order).
void World::Release(NodeId n) {
  auto it = held_.find(n);
  if (it == held_.end()) return;
  std::vector<Event> held = std::move(it->second);
  held_.erase(it);
  for (Event& e : held) {
    e.at = now_;
    Proc* p = Find(e.proc);
    if (p) Deliver(*p, e);
  }
}

void World::NetOp(uint64_t op, NodeId n, uint64_t gen) {
  if (op == kOpFrameWindowEnd) {
    DRAY_ASSERT(n < 3, "a frame-fault window is loss, duplicate or reorder");
    if (window_gen_[n] == gen) window_pm_[n] = 0;
    return;
  }
  NodeNet& x = node_net_[n];
  switch (op) {
    case kOpHeal: {
      SetCut(n, x.cut & kClogged);
      // A node that crashed while cut off still awaits detection: the run
      // goes on until it is declared dead (else a false deadlock: actors
      // swarm seed 24 with worker_crash+node_crash+partition).
      Proc* nm = Find(Addr{n, kNodeManagerProc}.Key());
      bool crashed = nm == nullptr || !nm->alive;
      if (!crashed && !gcs_comp_->IsDead(n) && (x.cut & (kCutOut | kCutIn)) == 0)
        crashed_nodes_.erase(std::remove(crashed_nodes_.begin(), crashed_nodes_.end(), n), crashed_nodes_.end());
      return;
    }
    case kOpClog:
      if (gen != 0) {  // a swarm's clog, ending at `gen`: as a scripted clog picks among nodes other than 0
        std::vector<NodeId> others = ScriptAllNodes();
        others.erase(std::remove(others.begin(), others.end(), NodeId{0}), others.end());
        RecordDrawn(ScriptedFault::kClog, n, others, static_cast<TimeNs>(gen) - now_);
      }
      SetCut(n, x.cut | kClogged);
      return;
    case kOpUnclog:
      SetCut(n, x.cut & ~kClogged);
      return;
    case kOpSpikeEnd:
      if (x.spike_gen == gen) SlowLinks(n, 0);
      return;
    case kOpSlowEnd:
      if (x.slow_gen == gen) SlowNode(n, 0);
      return;
  }
  DRAY_ASSERT(false, "an unknown network operation");
}

// A fault from a scenario file: its target is the index-th live worker or
// node (other than node 0) in address order, modulo their number, so that a
// schedule stays valid when a shrinker removes faults before it.
std::vector<NodeId> World::ScriptNodes() const {
  std::vector<NodeId> nodes;  // live, not cut off, other than node 0
  for (const auto& [k, p] : procs_)
    if (p->alive && p->node && p->addr.node != 0 && (node_net_[p->addr.node].cut & (kCutOut | kCutIn)) == 0)
      nodes.push_back(p->addr.node);
  return nodes;
}

std::vector<NodeId> World::ScriptAllNodes() const {
  std::vector<NodeId> all;  // live, node 0 first (slow_links, slow_node)
  for (const auto& [k, p] : procs_)
    if (p->alive && p->node && (p->addr.node == 0 || !gcs_comp_->IsDead(p->addr.node))) all.push_back(p->addr.node);
  return all;
}

void World::RecordDrawn(ScriptedFault::Kind kind, NodeId n, const std::vector<NodeId>& among, TimeNs duration,
                        int64_t amount) {
  auto it = std::find(among.begin(), among.end(), n);
  if (it == among.end()) {
    unexpressed_.push_back(std::string(ScriptedFaultName(kind)) + " of node " + std::to_string(n) + " at " +
                           std::to_string(now_) + " ns: a scripted fault cannot pick that node then");
    return;
  }
  drawn_.push_back(ExactFault(now_, kind, static_cast<uint32_t>(it - among.begin()), duration, amount));
}

DrawnSchedule World::Drawn() const {
  DrawnSchedule d;
  d.drawn = spec_.swarm || (kinds_ & (kFaultWorkerCrash | kFaultNodeCrash | kFaultPartition | kFaultOneWayPartition |
                                      kFaultLatencySpike | kFaultSlowNode | kFaultClog)) != 0;
  // The kinds that are no stream of single faults carry over as they are: a
  // spec with them draws the same (their PRNGs are forks of their own).
  uint32_t carried = kinds_ & (kFaultLoss | kFaultDuplicate | kFaultReorder | kFaultBuggify | kFaultGcsRestart |
                               kFaultSmallStore | kFaultDiskError);
  if (lossy_ && !(carried & (kFaultLoss | kFaultDuplicate | kFaultReorder))) carried |= kFaultLoss;  // sequenced
  d.spec = "faults=" + FaultKindsStr(carried);
  if (lossy_)
    d.spec += ",loss_permille=" + std::to_string(loss_pm_) + ",dup_permille=" + std::to_string(dup_pm_) +
              ",reorder_permille=" + std::to_string(reorder_pm_) + ",rto_us=" + std::to_string(rto_ns_ / 1000);
  if (kinds_ & kFaultDiskError) d.spec += ",disk_error_permille=" + std::to_string(disk_error_pm_);
  d.faults = drawn_;
  std::stable_sort(d.faults.begin(), d.faults.end(),
                   [](const ScriptedFault& a, const ScriptedFault& b) { return a.AtNs() < b.AtNs(); });
  d.unexpressed = unexpressed_;
  if (rto_ns_ % 1000 != 0) d.unexpressed.push_back("rto_us: the retransmit timeout is not a whole us");
  return d;
}

void World::RunScripted(const ScriptedFault& f) {
  std::vector<NodeId> nodes = ScriptNodes();
  std::vector<NodeId> all = ScriptAllNodes();
  const TimeNs lasts = std::max<int64_t>(f.DurationNs(), 0);
  switch (f.kind) {
    case ScriptedFault::kCrashWorker: {
      std::vector<Proc*> workers;
      for (auto& [k, p] : procs_)
        if (p->alive && p->user && p->user->fiber) workers.push_back(p.get());
      if (!workers.empty()) CrashWorker(*workers[f.index % workers.size()], "crashed (injected fault)");
      return;
    }
    case ScriptedFault::kCrashNode:
      if (nodes.empty()) return;
      CrashNodeNow(nodes[f.index % nodes.size()]);
      AddNode();
      return;
    case ScriptedFault::kRestartControlService:
      ControlServiceDown();
      Push(Event{now_ + std::max<TimeNs>(lasts, 1'000'000), 0, Ev::kGcs, 0, 1});
      return;
    case ScriptedFault::kPartition:
    case ScriptedFault::kPartitionOut:
    case ScriptedFault::kPartitionIn: {
      // As the swarm's cuts: a new node keeps the cluster's size.
      if (nodes.empty()) return;
      NodeId n = nodes[f.index % nodes.size()];
      Partition(n, f.kind == ScriptedFault::kPartition ? 0 : f.kind == ScriptedFault::kPartitionOut ? 1 : 2);
      AddNode();
      Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpHeal});
      if (f.kind != ScriptedFault::kPartition) ++stats_.net_faults;
      return;
    }
    case ScriptedFault::kClog: {
      std::vector<NodeId> others;  // clogs skip node 0, cut or not
      for (NodeId n : all)
        if (n != 0) others.push_back(n);
      if (others.empty()) return;
      NodeId n = others[f.index % others.size()];
      SetCut(n, node_net_[n].cut | kClogged);
      Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpUnclog});
      ++stats_.net_faults;
      return;
    }
    case ScriptedFault::kSlowLinks:
    case ScriptedFault::kSlowNode: {
      if (all.empty()) return;
      NodeId n = all[f.index % all.size()];
      if (f.kind == ScriptedFault::kSlowLinks) {
        SlowLinks(n, f.amount * 1000);
        Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpSpikeEnd, node_net_[n].spike_gen, true});
      } else {
        SlowNode(n, f.amount * 1000);
        Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpSlowEnd, node_net_[n].slow_gen, true});
      }
      ++stats_.net_faults;
      return;
    }
    case ScriptedFault::kLoss:
    case ScriptedFault::kDuplicate:
    case ScriptedFault::kReorder: {
      DRAY_ASSERT(lossy_, "a frame-fault window on an unsequenced network");
      uint32_t which = f.kind - ScriptedFault::kLoss;
      window_pm_[which] = static_cast<uint32_t>(std::min<int64_t>(f.amount, 900));
      Push(Event{now_ + lasts, 0, Ev::kNet, which, kOpFrameWindowEnd, ++window_gen_[which], true});
      ++stats_.net_faults;
      return;
    }
    case ScriptedFault::kDiskError: {
      // Restores fail at this rate until the window ends (a later window
      // replaces an earlier one).
      disk_window_pm_ = static_cast<uint32_t>(std::min<int64_t>(f.amount, 1000));
      disk_window_until_ = now_ + lasts;
      return;
    }
    case ScriptedFault::kNumKinds:
      break;
  }
  DRAY_ASSERT(false, "an unknown scripted fault");
}

void World::Restore(const Proc& p, const EfRestore& e) {
  ++stats_.restores;
  ObjectRestored r{e.id, e.key, false, {}, ""};
  auto& disk = disks_[p.addr.node];
  auto it = disk.find(e.key);
  uint32_t error_pm = now_ < spec_.faults_until_ms * 1'000'000 ? disk_error_pm_ : 0;
  if (now_ < disk_window_until_) error_pm = std::max(error_pm, disk_window_pm_);
  if (it != disk.end() && error_pm > 0 && disk_rng_.Chance(error_pm, 1000)) {
    // An injected disk fault: the read fails, and the file is gone with it.
    ++stats_.disk_errors;
    disk.erase(it);
    r.error = "reading spill file " + std::to_string(e.key) + " on node " + std::to_string(p.addr.node) +
              " failed: input/output error (injected disk fault)";
  } else if (it != disk.end()) {
    r.ok = true;
    r.data = it->second;  // shared, not copied
  } else {
    r.error = "spill file " + std::to_string(e.key) + " is not on node " + std::to_string(p.addr.node) + "'s disk";
  }
  TimeNs took = spec_.disk_us * 1000 + static_cast<TimeNs>(e.size * 1000 / spec_.disk_mb_per_s);
  // Stepped into the node manager as if from itself, like any delivery.
  Frame f = EncodeFrame(Message{std::move(r)});
  uint64_t h = HashFrame(f);
  Push(Event{now_ + took, 0, Ev::kDeliver, p.addr.Key(), p.addr.Key(), h, false, std::move(f.header),
             std::move(f.attachments)});
}

void World::Persist(const EfPersist& e) {
  sqlite3_stmt* st = nullptr;
  const char* sql = e.erase ? "DELETE FROM rows WHERE tbl = ?1 AND key = ?2"
                            : "INSERT OR REPLACE INTO rows (tbl, key, value) VALUES (?1, ?2, ?3)";
  DRAY_ASSERT(sqlite3_prepare_v2(gcs_db_, sql, -1, &st, nullptr) == SQLITE_OK, "prepare a persist statement");
  sqlite3_bind_text(st, 1, e.table.data(), static_cast<int>(e.table.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, e.key.data(), static_cast<int>(e.key.size()), SQLITE_TRANSIENT);
  if (!e.erase) sqlite3_bind_blob(st, 3, e.value.data(), static_cast<int>(e.value.size()), SQLITE_TRANSIENT);
  DRAY_ASSERT(sqlite3_step(st) == SQLITE_DONE, "write the control service's row");
  sqlite3_finalize(st);
}

void World::RestartControlService(TimeNs down_ns) {
  Push(Event{now_, 0, Ev::kGcs, 0, 0});
  Push(Event{now_ + std::max<TimeNs>(down_ns, 1), 0, Ev::kGcs, 0, 1});
}

void World::ControlServiceDown() {
  if (gcs_down_) return;
  gcs_down_ = true;
  ++stats_.crashes;
  ++stats_.gcs_restarts;
}

// A new control service at the same address, built from the rows its
// predecessor persisted (in key order: deterministic); then what was sent
// to it meanwhile, in order.
void World::ControlServiceUp() {
  if (!gcs_down_) return;
  ControlServiceConfig c = gcs_cfg_;
  sqlite3_stmt* st = nullptr;
  DRAY_ASSERT(sqlite3_prepare_v2(gcs_db_, "SELECT tbl, key, value FROM rows ORDER BY tbl, key", -1, &st, nullptr) ==
                  SQLITE_OK,
              "read the control service's rows");
  while (sqlite3_step(st) == SQLITE_ROW) {
    PersistRecord r;
    r.table = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    r.key = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    r.value.assign(static_cast<const char*>(sqlite3_column_blob(st, 2)), static_cast<size_t>(sqlite3_column_bytes(st, 2)));
    c.recovered.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  Proc& g = *Find(gcs_.Key());
  g.comp = std::make_unique<ControlService>(c);
  gcs_comp_ = static_cast<ControlService*>(g.comp.get());
  // Its predecessor's timers still in the queue must never fire into it:
  // move every armed timer's generation on (clearing the map would restart
  // the counters, and a stale timer could match a new one: the swarm found
  // health rounds running twice as often after a restart).
  for (auto& [id, gen] : g.timer_gen) ++gen;
  g.rng = Prng(c.seed);
  if (trace_) trace_->Create(seq_, now_, gcs_, g.comp->Kind(), Pack(c));
  gcs_down_ = false;
  StepProc(g, InCommand{CmdStart{}}, 0);
  auto held = std::move(gcs_held_);
  gcs_held_.clear();
  for (auto& e : held) Dispatch(g, e);
}

// The network fault stream (its own PRNG, so the crash stream does not move):
// every net_fault_every_us on average until faults_until_ms, one of the
// enabled kinds, equally likely.
void World::InjectNetFault() {
  if (now_ >= spec_.faults_until_ms * 1'000'000) return;
  std::vector<uint32_t> kinds;
  for (uint32_t k : {kFaultOneWayPartition, kFaultLatencySpike, kFaultSlowNode, kFaultClog})
    if (kinds_ & k) kinds.push_back(k);
  DRAY_ASSERT(!kinds.empty(), "a network fault stream without network faults");
  std::vector<NodeId> all, others;  // live nodes; those other than node 0
  for (auto& [k, p] : procs_)
    if (p->alive && p->node && !gcs_comp_->IsDead(p->addr.node)) {
      all.push_back(p->addr.node);
      if (p->addr.node != 0) others.push_back(p->addr.node);
    }
  uint32_t kind = kinds[net_fault_rng_.Below(kinds.size())];
  const TimeNs ms = 1'000'000;
  if (kind == kFaultOneWayPartition && !others.empty()) {
    // Cut one direction, briefly or past failure detection; a new node keeps
    // the cluster's size (as two-way partitions do).
    NodeId n = others[net_fault_rng_.Below(others.size())];
    uint8_t dir = net_fault_rng_.Below(2) == 0 ? 1 : 2;
    TimeNs lasts = net_fault_rng_.Below(2) == 0 ? 1000 * ms : 25'000 * ms;
    if ((node_net_[n].cut & (kCutOut | kCutIn)) == 0) {
      RecordDrawn(dir == 1 ? ScriptedFault::kPartitionOut : ScriptedFault::kPartitionIn, n, ScriptNodes(), lasts);
      Partition(n, dir);
      AddNode();
      Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpHeal});
      ++stats_.net_faults;
    }
  } else if (kind == kFaultLatencySpike && !all.empty()) {
    NodeId n = all[net_fault_rng_.Below(all.size())];
    static constexpr int64_t kTimes[] = {10, 100, 1000};
    TimeNs extra = spec_.latency_us * 1000 * kTimes[net_fault_rng_.Below(3)];
    TimeNs lasts = net_fault_rng_.Range(50 * ms, 2000 * ms);
    RecordDrawn(ScriptedFault::kSlowLinks, n, all, lasts, extra / 1000);
    SlowLinks(n, extra);
    Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpSpikeEnd, node_net_[n].spike_gen, true});
    ++stats_.net_faults;
  } else if (kind == kFaultSlowNode && !all.empty()) {
    NodeId n = all[net_fault_rng_.Below(all.size())];
    static constexpr TimeNs kStep[] = {50'000, 500'000, 5'000'000};
    TimeNs step = kStep[net_fault_rng_.Below(3)];
    TimeNs lasts = net_fault_rng_.Range(100 * ms, 3000 * ms);
    RecordDrawn(ScriptedFault::kSlowNode, n, all, lasts, step / 1000);
    SlowNode(n, step);
    Push(Event{now_ + lasts, 0, Ev::kNet, n, kOpSlowEnd, node_net_[n].slow_gen, true});
    ++stats_.net_faults;
  } else if (kind == kFaultClog && now_ >= swizzle_until_ && !others.empty()) {
    // Swizzle (FoundationDB): about half the nodes, clogged one by one at
    // random times in the first half of a window, unclogged in random order
    // in the second half.
    TimeNs window = net_fault_rng_.Range(200 * ms, 4000 * ms);
    net_fault_rng_.Shuffle(others);
    others.resize((others.size() + 1) / 2);
    for (NodeId n : others) {
      TimeNs clog_at = now_ + static_cast<TimeNs>(net_fault_rng_.Below(static_cast<uint64_t>(window / 2)));
      TimeNs unclog_at = now_ + window / 2 + static_cast<TimeNs>(net_fault_rng_.Below(static_cast<uint64_t>(window / 2)));
      // The clog carries its end, so that it is written down as it starts.
      Push(Event{clog_at, 0, Ev::kNet, n, kOpClog, static_cast<uint64_t>(unclog_at)});
      Push(Event{unclog_at, 0, Ev::kNet, n, kOpUnclog});
    }
    swizzle_until_ = now_ + window;
    ++stats_.net_faults;
  }
  TimeNs gap = 1 + static_cast<TimeNs>(net_fault_rng_.Below(static_cast<uint64_t>(2 * net_fault_every_ns_)));
  Push(Event{now_ + gap, 0, Ev::kNetFault, 0});
}

NodeId World::AddNode() {
  NodeId n = next_node_++;
  AddNodeManager(n);
  return n;
}

bool World::CrashWorkerRunning(const std::string& task_name) {
  std::vector<uint64_t> keys;
  for (auto& [k, p] : procs_)
    if (p->alive && p->user && p->user->fiber) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  for (int pass = 0; pass < 2; ++pass) {
    for (uint64_t k : keys) {
      const UserThread& u = *procs_.at(k)->user;
      if ((pass == 0 ? u.running : u.last) == task_name && (pass == 0 || u.running.empty())) {
        Push(Event{now_, 0, Ev::kCrash, k});
        return true;
      }
    }
  }
  return false;
}

void World::ActorCallStarts(const Addr& worker, const TaskSpec& spec) {
  ActorWatch& a = actor_watch_[spec.actor];
  if (spec.incarnation < a.newest)
    std::fprintf(stderr, "dray sim: actor %llx: incarnation %u on %s starts '%s' at %lld ns after incarnation %u ran\n",
                 (unsigned long long)spec.actor, spec.incarnation, worker.Str().c_str(), spec.name.c_str(),
                 (long long)now_, a.newest);
  DRAY_ASSERT(spec.incarnation >= a.newest, "an old incarnation of an actor ran a call after a newer one did");
  a.newest = spec.incarnation;
  for (const auto& [w, inc] : a.running) {
    if (w == worker && inc == spec.incarnation) continue;
    std::fprintf(stderr, "dray sim: actor %llx: incarnation %u on %s starts '%s' at %lld ns while incarnation %u on %s runs\n",
                 (unsigned long long)spec.actor, spec.incarnation, worker.Str().c_str(), spec.name.c_str(),
                 (long long)now_, inc, w.Str().c_str());
    DRAY_ASSERT(false, "two incarnations of an actor ran calls at once");
  }
  a.running[worker] = spec.incarnation;
  if (spec.actor_kind == kActorCreation) return;
  auto key = std::make_pair(spec.owner, spec.incarnation);
  auto last = a.last_seq.find(key);
  DRAY_ASSERT(last == a.last_seq.end() || spec.actor_seq > last->second,
              "an actor ran a caller's calls out of their order");
  a.last_seq[key] = spec.actor_seq;
  bool first = a.ran.insert({spec.owner, spec.actor_seq}).second;
  DRAY_ASSERT(first || spec.attempt > 0, "an actor call ran twice without a retry");
}

void World::ActorCallEnds(const Addr& worker, uint64_t actor) {
  auto it = actor_watch_.find(actor);
  if (it != actor_watch_.end()) it->second.running.erase(worker);
}

void World::CheckObjectValue(const ObjectId& id, const ObjectValue& v) {
  uint64_t h = HashBytes(v.data.data(), v.data.size()) ^ (v.is_error ? 1 : 0);
  auto [it, inserted] = value_hashes_.emplace(id, h);
  DRAY_ASSERT(inserted || it->second == h || v.is_error, "one object id, two different values");
}

void World::Stop() {
  if (!loop_.joinable()) return;
  Proc* d = Find(driver_.Key());
  stop_requested_ = true;
  d->user->parked = true;
  loop_sem_.release();
  d->user->sem.acquire();  // the loop hands the baton back when every worker is gone
  loop_.join();
  *d->user->alive = false;
  internal::SetCurrentRuntime(nullptr);
  stats_.virtual_ns = now_;
  if (trace_) {
    auto trace = std::move(trace_);
    try {
      trace->SetMeta("trace_hash", std::to_string(stats_.trace_hash));
      trace->SetMeta("steps", std::to_string(stats_.steps));
      trace->Close();
    } catch (const std::exception& e) {
      // The run itself is over and fine; only its record is incomplete.
      std::fprintf(stderr, "dray sim: the trace %s is incomplete: %s\n", spec_.trace.c_str(), e.what());
      return;
    }
    if (!spec_.timeline.empty()) {
      std::string err = WriteTimeline(spec_.trace, spec_.timeline);
      if (!err.empty()) std::fprintf(stderr, "dray sim: timeline: %s\n", err.c_str());
    }
  }
}

ClusterState World::RunUntilQuiet(int64_t limit_ns) {
  Proc* d = Find(driver_.Key());
  quiet_requested_ = true;
  quiet_reached_ = false;
  quiet_deadline_ = now_ + limit_ns;
  while (!quiet_reached_) d->user->Park();
  return State();
}

ClusterState World::State() const {
  ClusterState s;
  for (const auto& [k, p] : procs_) {
    if (!p->alive) continue;
    if (p->node) {
      s.store_objects += p->node->store_objects();
      s.store_bytes += p->node->store_used_bytes();
      s.leased_workers += p->node->leased_workers();
      s.workers += p->node->workers();
      s.queued_tasks += p->node->queued_tasks();
    }
    if (p->owner) {
      s.owned_objects += p->owner->owned_objects();
      s.borrowed_objects += p->owner->borrowed_objects();
      s.pending_tasks += p->owner->pending_tasks();
    }
  }
  return s;
}

RunStats World::Stats() const {
  RunStats s = stats_;
  s.virtual_ns = now_;
  return s;
}

}  // namespace dray::sim
