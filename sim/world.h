// The simulated cluster (DESIGN §4): one event queue ordered by (virtual time,
// sequence), a network with latency and jitter whose every message passes
// through the codec, and the processes of a multi-node cluster. User code runs
// unmodified: the driver on the user's own thread, each worker on its own
// stack (a ucontext fiber switched to from the event loop's thread). A baton
// lets exactly one of them run at a time, handed over in event order, so a run
// is a pure function of its seed.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <semaphore>
#include <set>
#include <string>
#include <thread>
#include <ucontext.h>
#include <unordered_map>
#include <vector>

#include "core/common/step.h"
#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
#include "core/proto/effects_hash.h"
#include "dray/internal/runtime.h"
#include "dray/sim.h"
#include "sim/spec.h"

struct sqlite3;

namespace dray::sim {

class TraceWriter;

class World {
 public:
  explicit World(SimSpec spec);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // On the user's main thread: boots the cluster and the driver process; returns
  // once the driver's job is registered.
  internal::ProcessRuntime* StartDriver();
  // On the driver thread: stops every process and the event loop.
  void Stop();
  // On the driver thread: runs the cluster until nothing is left to happen (or
  // `limit_ns` of virtual time passed) and reports what it still holds.
  ClusterState RunUntilQuiet(int64_t limit_ns);
  ClusterState State() const;
  // On the driver thread: crashes the worker running a task named `task_name`,
  // else an idle one that ran it last (lowest address first), once the driver
  // yields. False if none.
  bool CrashWorkerRunning(const std::string& task_name);
  // On the driver thread: crashes node `n` (its node manager, workers and
  // store) once the driver yields. Not node 0 (the driver's and the control
  // service's). Throws on a bad node.
  void CrashNode(NodeId n);
  // On the driver thread: starts a new node like the others (a crashed node
  // returns as a new node); returns its id.
  NodeId AddNode();
  // On the driver thread: cuts node n off from every other node, both ways
  // (messages in flight across the cut are lost), until Heal(n).
  void Partition(NodeId n, uint8_t cut = 0);  // cut: dray::sim::Cut
  void Heal(NodeId n);
  // On the driver thread: the control service crashes once the driver yields
  // and restarts `down_ns` later, rebuilt from its persisted tables.
  void RestartControlService(TimeNs down_ns);
  // On the driver thread: clogs (holds every message to and from) node n, or
  // unclogs it.
  void Clog(NodeId n, bool on);
  // On the driver thread: a latency spike on n's links; a slow node.
  void SlowLinks(NodeId n, TimeNs extra);
  void SlowNode(NodeId n, TimeNs per_step);
  RunStats Stats() const;
  // The faults this run drew from its seed, as a scenario (sim/scenario.h).
  DrawnSchedule Drawn() const;
  const SimSpec& spec() const { return spec_; }
  TimeNs now() const { return now_; }

 private:
  struct UserThread;
  enum class Ev : uint8_t { kDeliver, kTimer, kResume, kStart, kReap, kCrash, kFault, kNet, kNetFault, kXmit, kDrain, kScript, kGcs, kLiveness };
  struct Event {
    TimeNs at;
    uint64_t seq;
    Ev kind;
    uint64_t proc;
    uint64_t a = 0;
    uint64_t b = 0;
    bool background = false;  // health checks: they alone never keep a run going
    std::string bytes;  // a delivery's frame: header ...
    std::vector<Buf> attachments;  // ... and attachments
    uint64_t chan_seq = 0;  // lossy network: the frame's number on its connection (0: not sequenced)
  };
  // A connection's receiving end under frame faults (docs/fault-tolerance.md):
  // the next frame number owed, and frames that arrived ahead of a gap.
  struct RecvChan {
    uint64_t next = 1;
    std::map<uint64_t, Event> ahead;
  };
  struct Proc {
    Addr addr;
    std::unique_ptr<Component> comp;
    Prng rng;
    bool alive = true;
    std::unordered_map<uint64_t, uint64_t> timer_gen;
    std::unique_ptr<UserThread> user;
    Owner* owner = nullptr;
    NodeManager* node = nullptr;
    // A slow node: the process is busy with a step until then; inputs that
    // come meanwhile wait in the backlog, in arrival order.
    TimeNs busy_until = 0;
    std::deque<Event> backlog;
    bool drain_pending = false;
    std::unordered_map<uint64_t, RecvChan> recv;  // lossy network: by sender address
    uint64_t ahead_fg = 0;  // foreground frames waiting in recv
  };
  // The network's view of a node: cut links, a latency spike, a slow CPU.
  struct NodeNet {
    uint8_t cut = 0;        // kCutOut | kCutIn | kClogged
    TimeNs link_extra = 0;  // added to every message to or from it
    TimeNs step_ns = 0;     // each step of its processes takes this long
    uint64_t spike_gen = 0;
    uint64_t slow_gen = 0;
  };
  // The queue orders small keys; the events themselves wait in slots (a heap
  // of full events would move their buffers on every sift).
  struct Key {
    TimeNs at;
    uint64_t seq;
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Key& x, const Key& y) const { return x.at != y.at ? x.at > y.at : x.seq > y.seq; }
  };

  Proc& AddProc(Addr addr, std::unique_ptr<Component> comp, uint64_t seed, const std::string& config_bytes);
  void Push(Event e);
  void LoopMain();
  void RunOne(Event& e);
  void Deliver(Proc& p, Event& e);   // a frame arrived at p: cuts, sequencing, then Gate
  void Gate(Proc& p, Event& e);      // a slow node's busy process defers it
  void Dispatch(Proc& p, Event& e);  // the input reaches the component
  void Transmit(Event e, TimeNs extra);  // lossy network: one transmission of a frame
  TimeNs Latency(NodeId from, NodeId to, uint64_t bytes);
  void SetCut(NodeId n, uint8_t cut);
  // Sets one of n's slownesses (link_extra or step_ns, 0 ends it) and bumps
  // its generation; keeps slow_nodes_ (nodes with either) counted.
  void SetSlowness(NodeId n, const char* what, TimeNs NodeNet::*field, uint64_t NodeNet::*gen, TimeNs value);
  void Release(NodeId n);  // delivers, in order, what n's cut links held
  void NetOp(uint64_t op, NodeId n, uint64_t gen);
  void InjectNetFault();
  void CheckNode(NodeId n, const char* what) const;
  void StepProc(Proc& p, const Input& in, uint64_t input_hash);
  void ExecEffects(Proc& p, std::vector<Effect>& effects);
  void Send(const Addr& from, const Addr& to, Frame frame, uint64_t message_hash, bool background = false);
  void CreateWorker(const Addr& addr);
  void Wake(Proc& p);
  void Handoff(Proc& p);
  void Kill(UserThread& u);
  void CrashWorker(Proc& p, const std::string& cause);
  Proc& AddNodeManager(NodeId n);
  void CrashNodeNow(NodeId n);
  bool Idle() const;  // nothing but background events can happen
  std::string StuckReport() const;
  void CheckLiveness(uint64_t key, uint64_t waiter);  // kLiveness: a wait reached the bound
  void InjectFault();
  void RunScripted(const ScriptedFault& f);  // scenario=FILE
  // The nodes a scripted fault's index picks from: live nodes other than 0
  // that are not cut off (crash_node, partitions); live nodes not declared
  // dead, node 0 first (slow_links, slow_node; clog: those other than 0).
  std::vector<NodeId> ScriptNodes() const;
  std::vector<NodeId> ScriptAllNodes() const;
  // Writes down a fault the streams drew at now_, picking node n from
  // `among` (its index there); a node not among them is noted as unexpressed.
  void RecordDrawn(ScriptedFault::Kind kind, NodeId n, const std::vector<NodeId>& among, TimeNs duration = 0,
                   int64_t amount = 0);
  // The control service crashes (a = 0) and restarts from its SQLite tables
  // (a = 1). Messages to it meanwhile wait, as clients retry (Ray's GCS
  // clients do).
  void ControlServiceDown();
  void ControlServiceUp();
  void Persist(const EfPersist& e);
  // The node's simulated spill disk (docs/sim.md): writes land at once, a
  // restore completes after disk_us plus its bytes at disk_mb_per_s.
  void Restore(const Proc& p, const EfRestore& e);
  struct Stack {
    char* map = nullptr;  // the mapping, guard page first
    size_t map_size = 0;
  };
  Stack TakeStack();
  Proc* Find(uint64_t key);
  void CheckObjectValue(const ObjectId& id, const ObjectValue& v);
  // Actor invariants (DESIGN §4), checked as each call starts and ends: at
  // most one incarnation runs at a time and an older one never runs after a
  // newer one did; each caller's calls start in its order; a call runs twice
  // only as a retry that max_task_retries allowed.
  void ActorCallStarts(const Addr& worker, const TaskSpec& spec);
  void ActorCallEnds(const Addr& worker, uint64_t actor);
  struct ActorWatch {
    uint32_t newest = 0;
    std::map<Addr, uint32_t> running;  // worker -> the incarnation whose call it runs
    std::map<std::pair<Addr, uint32_t>, uint64_t> last_seq;  // (caller, incarnation) -> last started
    std::set<std::pair<Addr, uint64_t>> ran;                  // (caller, seq) started
  };
  std::map<uint64_t, ActorWatch> actor_watch_;

  SimSpec spec_;
  Prng root_;
  Prng net_rng_;
  Prng fault_rng_;
  uint32_t node_crash_permille_ = 0;  // faults=swarm: the share of faults that crash a node
  uint32_t partition_permille_ = 0;   // ... and that cut one off for a while
  uint32_t kinds_ = 0;                // FaultKind bits in effect (swarm: drawn)
  Prng net_fault_rng_;                // one-way cuts, spikes, slow nodes, clogs
  Prng frame_rng_;                    // frame loss, duplication, reordering
  Prng disk_rng_;                     // disk errors: which restores fail
  Prng os_rng_;                       // when the operating system reports a worker's death
  uint32_t disk_error_pm_ = 0;        // the chance that a restore fails while faults last
  uint32_t disk_window_pm_ = 0;       // a scenario's disk_error window: its chance ...
  TimeNs disk_window_until_ = 0;      // ... until then
  int64_t net_fault_every_ns_ = 0;
  uint32_t loss_pm_ = 0, dup_pm_ = 0, reorder_pm_ = 0;
  bool lossy_ = false;  // frame faults asked for: inter-node connections are sequenced
  TimeNs rto_ns_ = 0;
  // A scenario's frame-fault windows (loss, duplicate, reorder): rates in
  // effect now, and each window's number (a later window outlives an earlier).
  uint32_t window_pm_[3] = {0, 0, 0};
  uint64_t window_gen_[3] = {0, 0, 0};
  TimeNs swizzle_until_ = 0;
  std::vector<NodeNet> node_net_;  // by node id
  uint32_t cut_nodes_ = 0;   // nodes with a cut or clogged link: the hot path looks only at this
  uint32_t slow_nodes_ = 0;  // nodes with a latency spike or a slow CPU
  uint64_t backlog_fg_ = 0;  // foreground inputs waiting in slow processes' backlogs
  uint64_t ahead_fg_ = 0;    // foreground frames waiting for a gap
  std::unordered_map<uint64_t, uint64_t> send_seq_;  // lossy network: (from, to) -> frames sent
  TimeNs now_ = 0;
  TimeNs init_time_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<Key, std::vector<Key>, Later> queue_;
  std::vector<Event> slots_;
  std::vector<uint32_t> free_slots_;
  std::map<uint64_t, std::unique_ptr<Proc>> procs_;
  std::unordered_map<uint64_t, TimeNs> fifo_;  // (from, to) -> last delivery time
  Addr gcs_;
  ControlService* gcs_comp_ = nullptr;
  ControlServiceConfig gcs_cfg_;
  ::sqlite3* gcs_db_ = nullptr;  // the control service's tables (in memory: the simulated disk)
  bool gcs_down_ = false;
  std::vector<Event> gcs_held_;  // messages to it while it is down
  Addr driver_;
  NodeId next_node_ = 0;
  std::vector<NodeId> crashed_nodes_;  // crashed or cut off, until declared dead
  std::map<NodeId, std::vector<Event>> held_;  // messages across a cut, until it heals
  uint64_t fg_pending_ = 0;  // events in the queue that are not background
  std::vector<Effect> effects_;  // reused outbox
  std::vector<EncodedSend> sends_;  // the step's sent messages, encoded once
  std::unordered_map<ObjectId, uint64_t, IdHash> value_hashes_;
  std::vector<ScriptedFault> drawn_;      // what the fault streams injected, as scenario lines
  std::vector<std::string> unexpressed_;  // ... and what a scenario cannot say
  std::map<NodeId, std::map<uint64_t, Buf>> disks_;  // by node: spill key -> bytes; lost with the node
  uint64_t store_bytes_ = 0;  // every node's object store capacity
  RunStats stats_;
  std::unique_ptr<TraceWriter> trace_;

  // Baton.
  ucontext_t loop_ctx_{};     // the event loop, while a worker fiber runs
  std::vector<Stack> free_stacks_;  // of exited workers, reused
  size_t stacks_mapped_ = 0;
  std::binary_semaphore loop_sem_{0};
  std::thread loop_;
  bool stop_requested_ = false;
  bool loop_done_ = false;
  bool deadlock_ = false;
  TimeNs liveness_ns_ = 0;       // the liveness bound (0: not enforced: a run without faults)
  std::string liveness_report_;  // set when a wait outlived it; the driver's wait then throws it
  bool quiet_requested_ = false;
  TimeNs quiet_deadline_ = 0;
  bool quiet_reached_ = false;
  friend struct UserThread;
};

}  // namespace dray::sim
