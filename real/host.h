// The real backend's process host (DESIGN §5): one event-loop thread (the
// Transport's) steps this process's core components with real inputs (real
// monotonic time, a PRNG seeded from real entropy) and carries out their
// effects: sends (local: posted to the loop; remote: a routed frame), timers
// (asio steady_timer), worker processes (fork/exec of this executable in
// worker mode, reaped with waitpid) and the user thread's calls (UserRuntime).
//
// Two shapes (docs/architecture.md, "The real runtime"):
//  - the hub (the embedded cluster's driver process): the control service,
//    the node manager and the driver's Owner, listening on the node's Unix
//    socket; every worker connects to it, and it forwards frames between
//    workers;
//  - a worker: its Owner and one connection (the uplink) to its node's
//    socket; every message it sends goes there.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <set>
#include <tuple>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/common/step.h"
#include "dray/internal/runtime.h"
#include "real/loop_baton.h"
#include "real/shm_ledger.h"
#include "real/shm_store.h"
#include "real/transport.h"

namespace dray::real {

class Host;
class Recorder;
class SpillDir;
class DiskThread;

// The ProcessRuntime of a driver or worker, used by its one user thread (the
// thread that called Init; a worker's main thread): its calls become commands
// stepped on the loop, in the order made (Submits and Puts one-way); it waits
// for results (EfCommandResult, EfCompleteWait) on a condition variable, or,
// in a worker holding its loop baton, by running the loop itself.
class UserRuntime final : public internal::ProcessRuntime {
 public:
  UserRuntime(Host* host, Addr addr) : host_(host), addr_(addr) {}
  const Addr& addr() const { return addr_; }

  internal::RefData Submit(const internal::TaskOptions& opts, std::vector<internal::ArgData> args) override;
  internal::RefData Put(internal::ValueData value) override;
  internal::WaitOutcome Get(const std::vector<internal::RefData>& refs, int64_t timeout_ns) override;
  internal::WaitOutcome Wait(const std::vector<internal::RefData>& refs, int num_returns,
                             int64_t timeout_ns) override;
  void AddRef(const internal::RefData& ref) override;
  void RemoveRef(const internal::RefData& ref) override;
  int64_t NowNs() override;
  void SleepNs(int64_t ns) override;
  std::shared_ptr<const bool> AliveFlag() override { return alive_; }
  internal::RefData CreateActor(const internal::ActorOptions& opts, std::vector<internal::ArgData> args) override;
  internal::RefData SubmitActorTask(const internal::RefData& anchor, const internal::TaskOptions& opts,
                                    std::vector<internal::ArgData> args) override;
  std::optional<std::pair<internal::RefData, std::string>> GetActor(const std::string& name) override;
  void KillActor(const internal::RefData& anchor, bool no_restart) override;
  internal::ActorSlot& Actor() override { return actor_; }

  // User thread: blocks until the start handshake (the driver's job id).
  void WaitStarted();
  // User thread of a worker: runs every task it is handed, forever.
  [[noreturn]] void ServeTasks();
  // Any thread: the process is ending; blocked calls throw an Error saying `why`.
  void Abandon(const std::string& why = "the runtime has stopped (dray::Shutdown was called)");
  void MarkEnded() { *alive_ = false; }
  // The task whose children this process's Submits name now (a driver: its
  // job's root task, once started; a worker: the task it runs).
  void BeginTask(TaskId task);
  void set_init_ns(int64_t ns) { init_ns_ = ns; }

  // Loop thread: effects for the user thread.
  void OnRunTask(TaskSpec spec);
  void OnCompleteWait(EfCompleteWait e);
  void OnCommandResult(EfCommandResult e);

 private:
  EfCommandResult Run(Command cmd);
  void Notify(Command cmd);
  TaskId NextTaskId(TaskId* parent);
  internal::RefData SubmitNamed(TaskSpec spec, Addr actor_owner);
  // Values this process already has (its puts, its finished Gets) are
  // immutable: a Get of only such refs is answered here, without a round
  // trip to the loop, as Ray's core worker reads its in-process store. Plain
  // values only (no nested refs, no errors); a ref's entry goes with its
  // first RemoveRef. Bounded: the oldest go first.
  bool GetKnown(const std::vector<internal::RefData>& refs, internal::WaitOutcome* out);
  void Remember(const internal::RefData& ref, const internal::ValueData& v);
  void Forget(const internal::RefData& ref);
  EfCompleteWait WaitFor(uint64_t waiter);
  void RunTask(const TaskSpec& spec);

  Host* const host_;
  const Addr addr_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  internal::ActorSlot actor_;
  std::atomic<uint64_t> next_waiter_{1};
  std::mutex run_mu_;  // one Run at a time (one result_ slot; defensive: one user thread)
  std::mutex ids_mu_;
  TaskId current_task_;        // guarded by ids_mu_
  uint64_t task_counter_ = 0;  // guarded by ids_mu_
  uint32_t put_counter_ = 0;   // guarded by ids_mu_
  std::deque<ObjectId> one_way_puts_;  // Puts whose step has not returned; guarded by mu_
  int64_t init_ns_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, EfCompleteWait> completions_;  // guarded by mu_
  std::optional<EfCommandResult> result_;           // guarded by mu_
  std::deque<TaskSpec> tasks_;                      // guarded by mu_
  bool abandoned_ = false;                          // guarded by mu_
  struct RefKey {
    size_t operator()(const internal::RefData& r) const {
      return std::hash<uint64_t>()(r.task * 0x9e3779b97f4a7c15ULL ^ (uint64_t{r.index} << 32 | r.owner_proc));
    }
  };
  std::mutex known_mu_;
  std::unordered_map<internal::RefData, internal::ValueData, RefKey> known_;  // guarded by known_mu_
  std::deque<internal::RefData> known_order_;                                  // guarded by known_mu_
  static constexpr size_t kKnownMax = 4096;
  std::string abandoned_why_;                       // guarded by mu_
};

// What a host runs (docs/architecture.md, "The real runtime"):
//  - kEmbedded: the embedded cluster's driver process (control service, node
//    manager, driver; workers on the Unix socket);
//  - kHead: `dray start --head` (control service, node 0's manager; TCP for
//    nodes and drivers, the Unix socket for its workers); it relays every
//    frame between nodes and drivers;
//  - kNode: `dray start --address` (one node manager; its uplink to the head
//    over TCP, the Unix socket for its workers);
//  - kDriver: a driver joined to a cluster (its Owner; the uplink to the head);
//  - kWorker: a worker (its Owner; the uplink to its node's Unix socket).
enum class HostRole { kEmbedded, kHead, kNode, kDriver, kWorker };

// A host's own message (a FrameKind::kControl frame): joining a cluster, the
// drivers' program, status. docs/protocol.md, "Cluster control".
struct HostControl {
  std::string type;  // one of the kCtl* below
  uint32_t node = 0;
  uint32_t proc = 0;
  std::string text;
  std::vector<std::string> args;
  MSGPACK_DEFINE(type, node, proc, text, args);
};
inline constexpr const char* kCtlJoinNode = "join-node";      // node -> head; text: its host name
inline constexpr const char* kCtlJoinDriver = "join-driver";  // driver -> head; args: its program (exe, argv...)
inline constexpr const char* kCtlWelcome = "welcome";         // head -> joiner: node (and proc of a driver)
inline constexpr const char* kCtlRefuse = "refuse";           // head -> joiner: text says why; then closed
inline constexpr const char* kCtlProgram = "program";         // head -> node: args: what workers run
inline constexpr const char* kCtlStopWorkers = "stop-workers";  // head -> node: the last driver left
inline constexpr const char* kCtlStatus = "status";           // anyone -> head
inline constexpr const char* kCtlStatusReply = "status-reply";  // head -> asker: text
// worker -> its hub: args: offsets of store ranges it was lent (kRoutedShm
// descriptors) and no longer reads, one per descriptor.
inline constexpr const char* kCtlShmRelease = "shm-release";
// worker -> its hub: args: a request id, a size: a store range to write a
// value of that size into (a grant; docs/protocol.md, "Shared-memory frames").
inline constexpr const char* kCtlShmGrant = "shm-grant";
// hub -> worker: args: the request id, then the range's offset (granted) or
// nothing (refused; text says why: the worker uses its heap).
inline constexpr const char* kCtlShmGranted = "shm-granted";
inline constexpr size_t kControlMaxBytes = 1 << 20;
std::string EncodeControl(const HostControl& c);
bool DecodeControl(const std::string& body, HostControl* c, std::string* error);

// Remote drivers' processes on node 0: far above any worker's (they count up
// from 66), never reused (a driver's death is remembered by address).
inline constexpr uint32_t kRemoteDriverProcBase = 1u << 30;

struct HostOptions {
  HostRole role = HostRole::kEmbedded;
  std::string token;
  // The hub: the node's Unix socket it listens on, and what a worker it starts
  // is told (DRAY_WORKER=<node>,<proc>,<socket>,<token file>).
  std::string listen_unix;
  std::string token_file;
  // A worker: its node's socket and its own address (the sender of its frames).
  std::string uplink_unix;
  // kHead: the TCP address nodes and drivers dial (port 0: any; see bound_port()).
  std::string listen_tcp_host;
  uint16_t listen_tcp_port = 0;
  // kNode, kDriver: the head's TCP address.
  std::string uplink_tcp_host;
  uint16_t uplink_tcp_port = 0;
  // kDriver: the program workers run for it (exe path, then the arguments).
  std::vector<std::string> program;
  // kHead, kNode: non-empty: workers run <code_path>/<file name of the
  // program's exe> (the program lives elsewhere on this machine).
  std::string code_path;
  // kHead: renders `dray status` (on the loop thread).
  std::function<std::string()> status;
  // kNode, kDriver: the head's connection closed (loop thread).
  std::function<void(const std::string& reason)> on_uplink_lost;
  bool check_invariants = false;  // DRAY_CHECK_INVARIANTS=1: after every step
  // Non-empty: write this process's trace into this directory (real/recorder.h).
  std::string record_dir;
  // A host with a node manager: where its spilled objects go (real/spill.h);
  // removed by Stop.
  std::string spill_dir;
  std::chrono::milliseconds stop_grace{2000};  // SIGTERM, then SIGKILL after this
  // A hub: the node's shared-memory store (real/shm_store.h) of this many
  // bytes (0: none; large values then live on the heap and are copied to
  // workers); `store_prefault`: its pages are faulted in at start.
  uint64_t store_bytes = 0;
  bool store_prefault = false;
  // A worker: what it opens to map its node's store (DRAY_STORE).
  std::string store_path;
  // A hub: what one worker may hold granted and not yet handed over (0: half
  // the store). A worker: how long a grant may take before its value goes to
  // the heap.
  uint64_t grant_max_bytes = 0;
  std::chrono::milliseconds grant_timeout{5000};
  // A worker: only values of more than this ask for a grant (the Owner keeps
  // smaller ones in its own memory: a put of that size usually never leaves
  // the worker, and a round trip for it would be pure cost).
  uint64_t grant_min_bytes = kInlineLimitBytes;
};

// This process's shared-memory store as its hub sees it (tests, benchmarks).
struct StoreCounters {
  uint64_t used_bytes = 0;    // allocated now
  size_t allocations = 0;     // live allocations
  uint64_t allocations_total = 0;  // allocations made, ever
  size_t lent = 0;            // ranges workers read in place now
  size_t granted = 0;         // ranges granted to workers, not yet handed over
  uint64_t handed_over = 0;   // ranges workers wrote and handed over, ever
  uint64_t grants = 0;        // grants given, ever
  uint64_t refusals = 0;      // grants refused (full, over a worker's bound), ever
};
// False when this process is not a running hub with a store. Any thread.
bool CurrentStoreCounters(StoreCounters* out);

class Host {
 public:
  explicit Host(HostOptions options);
  ~Host();  // Stop()
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Before Start, from the creating thread: the process's components. `user`:
  // the component is this process's Owner, driven by a user thread.
  // `config`: the component's packed config (it holds `seed`), for a trace.
  void Add(Addr addr, std::unique_ptr<Component> comp, uint64_t seed, std::string config = {});
  UserRuntime* AddUser(Addr addr, std::unique_ptr<Component> owner, uint64_t seed, std::string config = {});
  // kNode, kDriver, before Add: dials the head and joins; *assigned is this
  // process's node (and, for a driver, its address). Blocks up to `timeout`.
  bool Join(Addr* assigned, std::string* error, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Listens (hub) or dials the uplink (worker), then steps CmdStart into every
  // component in the order they were added (a worker: once the uplink is open).
  bool Start(std::string* error);
  uint16_t bound_port() const { return bound_port_; }
  // kHead, loop thread: node ids handed out so far are [0, next_node()); whether one is connected.
  NodeId next_node() const { return next_node_; }
  bool node_connected(NodeId n) const { return n == 0 || nodes_by_id_.count(n) != 0; }
  // Stops every worker process (SIGTERM, SIGKILL after the grace period),
  // reaps them, and stops the loop. Idempotent. REQUIRES: not on the loop.
  void Stop();

  // Any thread: steps `cmd` into the component at `addr` on the loop.
  void PostCommand(const Addr& addr, Command cmd);
  // Nanoseconds since this host started (the components' clock).
  int64_t NowNs() const;
  size_t worker_processes();  // live children (any thread)
  // A worker's loop baton (real/loop_baton.h); null in other processes.
  LoopBaton* baton() const { return baton_.get(); }
  // A hub's store (null if none); store ranges lent to workers now.
  const std::shared_ptr<ShmArena>& store() const { return arena_; }
  size_t lent_ranges();  // any thread
  StoreCounters store_counters();  // any thread
  // A worker: grants asked for, and ranges handed over in place (any thread).
  uint64_t worker_grants() const { return grants_->granted_total.load(); }
  uint64_t worker_handed_over() const { return grants_->handed_total.load(); }
  // The trace this process writes ("" when not recording).
  std::string record_path() const;
  // Any thread: writes the rest of the trace and closes it (a process about
  // to exit); later steps are not recorded. Returns "" or the error.
  std::string EndRecording();

 private:
  struct Local;
  struct Child;
  Local* Find(const Addr& a);
  void StepLocal(Local& l, const Input& in);
  void Exec(Local& l, std::vector<Effect>& effects);
  template <class E>
  void Spill(Local& l, E& e);
  void Deliver(const Addr& from, const Addr& to, Message msg);
  void SetTimer(Local& l, uint64_t id, TimeNs at);
  void DrainCommands();
  void SpawnWorker(const Addr& worker);
  void StopWorker(const Addr& worker);
  void OnChildExit(int pid, int status);
  void OnRouted(ConnId conn, const Route& route, Message&& m);
  void OnOpen(ConnId conn);
  void OnClose(ConnId conn, const std::string& reason);
  void OnControl(ConnId conn, std::string&& body);
  void OnHeadControl(ConnId conn, const HostControl& c);
  void SendControl(ConnId conn, const HostControl& c);
  void KillAllWorkers(const std::string& why);
  // Shared-memory store (docs/architecture.md, "The shared-memory store").
  bool SendToWorkerInPlace(ConnId conn, const Route& route, Frame& f);  // hub
  bool ResolveShm(std::vector<Buf>& attachments, std::string* error);   // worker
  void OnShmRelease(ConnId conn, const HostControl& c);                  // hub
  void FlushReleases();                                                 // worker
  void OnShmGrant(ConnId conn, const HostControl& c);                    // hub
  bool HandOverShm(ConnId conn, std::vector<Buf>& attachments, std::string* error);  // hub
  void OnShmGranted(const HostControl& c);                               // worker
  bool SendHandOver(const Route& route, Frame& f);                       // worker
  class GrantArena;
  // Worker, user thread: a store range of `n` bytes from the hub (blocks for
  // its answer); false: the value goes to the heap.
  bool AllocateGranted(size_t n, char** out, Buf* owner);
  void StartAll();
  bool StartRecording(std::string* error);
  bool hub() const { return options_.role == HostRole::kEmbedded || options_.role == HostRole::kHead || options_.role == HostRole::kNode; }

  HostOptions options_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<LoopBaton> baton_;  // a worker's (made before the transport: its thread runs it)
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Recorder> recorder_;  // with options_.record_dir, from Start
  std::shared_ptr<ShmArena> arena_;     // a hub's store
  std::shared_ptr<ShmView> view_;       // a worker's mapping of its node's store (on first use)
  // Hub, loop thread: store ranges each worker connection holds (lent to it,
  // granted to it); counts from any thread.
  std::unique_ptr<ShmLedger> ledger_;
  std::atomic<uint64_t> handed_over_{0}, grants_given_{0}, grant_refusals_{0};
  // Worker: ranges the hub granted it (offset -> size, handed over or not),
  // the answers its user thread waits for.
  struct Grants {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t next_request = 1;
    struct Wait {
      uint64_t size = 0;
      std::optional<uint64_t> offset;  // the answer (kRefused: refused)
    };
    std::map<uint64_t, Wait> waiting;  // by request id
    struct Range {
      uint64_t size = 0;
      bool handed = false;
    };
    std::map<uint64_t, Range> ranges;
    bool closed = false;  // no uplink: no more grants
    std::atomic<uint64_t> granted_total{0}, handed_total{0};
  };
  std::shared_ptr<Grants> grants_ = std::make_shared<Grants>();
  std::unique_ptr<internal::ValueArena> grant_arena_;  // a worker's value arena
  // Worker: offsets to release, from any thread; flushed on the loop.
  struct Releases {
    std::mutex mu;
    std::vector<uint64_t> offsets;
    bool scheduled = false;
    std::function<void()> schedule;  // posts FlushReleases; cleared by Stop
  };
  std::shared_ptr<Releases> releases_ = std::make_shared<Releases>();
  // Any thread: the hub is to hear that `offset` is no longer read here.
  static void QueueRelease(const std::weak_ptr<Releases>& rel, uint64_t offset);
  std::vector<std::unique_ptr<Local>> locals_;  // fixed after Start
  bool worker_mode_ = false;
  ConnId uplink_ = 0;
  uint16_t bound_port_ = 0;
  NodeId node_ = 0;  // kNode: this node, once joined
  // Loop thread only (cluster roles):
  bool ready_ = true;  // false between Join and Start: routed frames wait
  std::vector<std::tuple<ConnId, Route, Message>> early_;
  std::map<ConnId, NodeId> node_conns_;      // kHead: a node's connection
  std::map<NodeId, ConnId> nodes_by_id_;
  std::map<ConnId, Addr> driver_conns_;      // kHead: a driver's connection
  std::set<Addr> departed_;                  // kHead: drivers that left (messages to them: no news)
  std::vector<std::string> program_;         // kHead, kNode: what workers run
  NodeId next_node_ = 1;
  uint32_t next_driver_ = 0;
  std::shared_ptr<std::promise<std::pair<bool, HostControl>>> join_;  // kNode, kDriver: until welcomed
  bool started_ = false;
  // Loop thread only:
  std::map<Addr, ConnId> routes_;    // worker -> its connection (hub)
  std::map<ConnId, Addr> conn_addr_;
  std::set<ConnId> unix_conns_;      // inbound on the Unix socket (only these may be workers)
  std::map<int, Child> children_;    // pid -> worker process
  std::map<Addr, int> child_pids_;
  bool shutting_down_ = false;
  uint64_t dropped_ = 0;
  // User threads' commands, stepped in the order posted, in batches; held
  // while a connection's write queue is congested (backpressure: a user
  // thread's one-way Submits cannot outrun the sockets).
  struct Commands {
    std::mutex mu;
    std::deque<std::pair<Addr, Command>> queue;  // guarded by mu
    bool scheduled = false;                      // a DrainCommands is posted; guarded by mu
  };
  Commands commands_;
  struct DrainTimer;
  std::unique_ptr<DrainTimer> drain_timer_;  // loop thread: retry while congested
  // Any thread:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t live_children_ = 0;               // guarded by mu_
  std::vector<std::thread> reapers_;       // guarded by mu_
  bool stopped_ = false;
  std::vector<std::string> argv_;          // this program's arguments (workers get the same)
  std::unique_ptr<SpillDir> spill_;        // made at the first spill; used on disk_'s thread
  std::unique_ptr<DiskThread> disk_;       // runs the spill files' reads and writes, in order
};

// A process's arguments as the kernel has them (/proc/self/cmdline).
std::vector<std::string> SelfArgv();
// 64 bits of real entropy (getrandom), for the components' PRNG seeds.
uint64_t EntropySeed();

}  // namespace dray::real
