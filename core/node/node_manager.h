// The node manager (Ray's raylet): the node's resources, task queue, hybrid
// placement with spillback, the worker pool, argument fetching, the object
// store (capacity, pinning, eviction, spilling; docs/architecture.md, "The
// object store") and chunked transfer between nodes. No I/O: everything it
// does is an effect (DESIGN §2).
#pragma once
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/common/buggify.h"
#include "core/common/step.h"

namespace dray {

struct NodeManagerConfig {
  NodeId node = 0;
  Addr gcs;
  ResourceSet total;
  uint64_t store_capacity_bytes = 2ull << 30;
  uint64_t chunk_bytes = 1 << 20;
  uint32_t pull_window = 4;
  TimeNs report_delay_ns = 1'000'000;     // batch resource reports
  TimeNs idle_worker_ns = 1'000'000'000;  // retire idle workers beyond the CPU count
  TimeNs pull_retry_ns = 10'000'000;
  TimeNs watchdog_ns = 3'000'000'000;  // a node not pinged for 3 of these says it is alive, unasked
  uint32_t pull_attempts = 50;  // then a fetch fails: the object is gone
  uint64_t seed = 0;
  // Fencing of actors (docs/actors.md): actors run only while the node holds
  // a lease, `lease_ns` from when it asked; it asks every `lease_renew_ns`.
  // The lease must be shorter than the control service takes to declare a
  // silent node dead (5 x 3 s by default).
  TimeNs lease_ns = 10'000'000'000;
  TimeNs lease_renew_ns = 3'000'000'000;
  BuggifyConfig buggify;  // off unless the simulator turns it on
  MSGPACK_DEFINE(node, gcs, total, store_capacity_bytes, chunk_bytes, pull_window, report_delay_ns,
                 idle_worker_ns, pull_retry_ns, pull_attempts, seed, watchdog_ns, lease_ns, lease_renew_ns,
                 buggify);
};

class NodeManager final : public Component {
 public:
  explicit NodeManager(NodeManagerConfig cfg);
  void Step(const Input& in, Context& cx) override;
  void CheckInvariants() const override;
  const char* Kind() const override { return "node"; }

  Addr addr() const { return {cfg_.node, kNodeManagerProc}; }
  const ResourceSet& available() const { return available_; }
  const ResourceSet& total() const { return cfg_.total; }
  size_t store_objects() const { return store_.size(); }
  uint64_t store_used_bytes() const { return store_used_; }
  size_t leased_workers() const { return leases_.size(); }
  // Objects stored past capacity because nothing could be evicted or spilled
  // (fallback allocations, as in Ray).
  uint64_t store_overflows() const { return store_overflows_; }
  uint64_t store_evictions() const { return store_evictions_; }
  uint64_t store_spills() const { return store_spills_; }      // EfSpill emitted
  uint64_t store_restores() const { return store_restores_; }  // EfRestore emitted
  size_t spilled_objects() const { return spilled_objects_; }  // entries whose bytes are only on disk
  bool IsSpilled(const ObjectId& id) const {
    auto it = store_.find(id);
    return it != store_.end() && !it->second.in_memory;
  }
  bool IsPinned(const ObjectId& id) const {
    auto it = store_.find(id);
    return it != store_.end() && it->second.pins > 0;
  }
  size_t workers() const { return workers_.size(); }
  size_t queued_tasks() const { return queued_count_; }
  size_t infeasible_tasks() const { return infeasible_.size(); }
  bool fenced() const { return fenced_; }
  size_t actors() const { return actors_.size(); }
  TimeNs lease_until() const { return lease_until_; }
  bool HasObject(const ObjectId& id) const { return store_.count(id) != 0; }
  std::vector<ObjectId> StoredIds() const;
  // Queued tasks, tasks waiting for arguments and pulls (a deadlock report).
  std::string Pending() const;

  // Timer ids (component-local).
  static constexpr uint64_t kReportTimer = 1;
  static constexpr uint64_t kWatchdogTimer = 2;  // background: is the control service still there?
  static constexpr uint64_t kLeaseTimer = 3;     // background: ask for a longer lease
  static constexpr uint64_t kLeaseExpiryTimer = 4;  // background: the lease ran out?
  static constexpr uint64_t kIdleTimerBase = 2ull << 32;
  static constexpr uint64_t kPullRetryBase = 3ull << 32;

 private:
  struct Queued {
    TaskSpec spec;
    std::vector<ObjectId> missing;  // store args not yet local
  };
  struct Worker {
    bool registered = false;
    bool idle = false;
    bool owns_objects = false;
    TimeNs idle_since = 0;
  };
  struct Lease {
    Addr worker;
    ResourceSet held;  // what the task holds now (CPU given back while blocked)
    ResourceSet demand;
    bool blocked = false;
    bool unblock_requested = false;
    TaskSpec spec;
    std::vector<std::pair<ObjectId, uint64_t>> pinned;  // its store arguments: (id, entry seq)
  };
  // One object in the store. In memory, `value.data` holds its bytes and
  // they count in store_used_; spilled, only its metadata stays here and the
  // bytes are in spill file `spill_key` (kept after a restore, so spilling it
  // again writes nothing).
  struct StoreEntry {
    ObjectValue value;
    // Who owns it: usually one process. Attempts of one task in different
    // processes put objects with the same ids (derived from the task), so a
    // retried task's put may find its dead attempt's copy here: then each
    // owner holds the entry, which goes when the last one frees it or dies.
    std::vector<Addr> owners;
    bool primary = false;
    uint64_t size = 0;
    bool in_memory = true;
    bool restoring = false;  // an EfRestore is out
    uint64_t spill_key = 0;  // 0: never spilled
    uint32_t pins = 0;       // dispatched tasks using it as an argument
    uint64_t lru = 0;        // its key in lru_primary_/lru_secondary_ (0: not there)
    uint64_t seq = 0;        // this entry's incarnation (pins name it)
  };
  struct Pull {
    std::vector<NodeId> locations;
    size_t source = 0;
    uint32_t num_chunks = 0;
    uint32_t next_chunk = 0;
    uint32_t received = 0;
    uint64_t size = 0;
    std::vector<Buf> chunks;
    std::vector<uint8_t> have;
    bool is_error = false;
    std::vector<RefInfo> contained;
    Addr owner;
    bool waiting_retry = false;
    uint32_t misses = 0;
    uint64_t retry_id = 0;
  };
  struct Fetcher {
    Addr proc;
    uint64_t request;
  };

  void OnDeliver(const Addr& from, const Message& msg, Context& cx);
  void OnSubmit(TaskSpec spec, Context& cx);
  void Enqueue(TaskSpec spec, Context& cx);
  std::optional<NodeId> ChooseNode(const TaskSpec& spec) const;
  double Utilization(const ResourceSet& total, const ResourceSet& avail) const;
  void TryDispatch(Context& cx);
  // False if it did not dispatch (the task went back to its owner).
  bool Dispatch(TaskSpec spec, Addr worker, Context& cx);
  bool SpillOne(TaskSpec& spec, Context& cx);  // forwards to a node with room now
  void OnTaskFinished(const Addr& worker, const TaskFinished& m, Context& cx);
  void OnWorkerDied(const WorkerDied& m, Context& cx);
  void OnDeaths(const Addr& from, const Deaths& m, Context& cx);
  bool OwnerDead(const Addr& owner) const;
  void TellOwnersCopyGone(const std::vector<Addr>& owners, const ObjectId& id, Context& cx);
  void FenceSelf(const std::string& cause, Context& cx);
  void StoreObject(const ObjectId& id, ObjectValue value, Addr owner, bool primary, Context& cx);
  // The store under pressure (node_manager_store.cc). MakeRoom frees memory
  // for `bytes` more: evicts unpinned secondary copies, then spills unpinned
  // primary copies, least recently used first; false if that is not enough
  // (the caller stores anyway: a fallback allocation, counted).
  bool MakeRoom(uint64_t bytes, Context& cx);
  void Evict(const ObjectId& id, Context& cx);
  void Spill(const ObjectId& id, Context& cx);
  void StartRestore(const ObjectId& id, StoreEntry& e, Context& cx);
  void OnRestored(const ObjectRestored& m, Context& cx);
  // Forgets an entry (freed, its owner dead): memory, LRU, its spill file,
  // pull requests waiting for its restore. Returns the next entry.
  using StoreIt = std::map<ObjectId, StoreEntry>::iterator;
  StoreIt DropEntry(StoreIt it, Context& cx);
  bool InMemory(const ObjectId& id) const {
    auto it = store_.find(id);
    return it != store_.end() && it->second.in_memory;
  }
  // Store arguments of `spec` that were local but are not in memory now
  // (spilled, or a secondary copy evicted), unless gone with a dead owner.
  std::vector<ObjectId> ArgsToFetchAgain(const TaskSpec& spec) const;
  // A queued task's store arguments stay in memory while it is queued here
  // (wanted_), so that tasks do not evict each other's arguments forever.
  void WantArgs(const TaskSpec& spec);
  void UnwantArgs(const TaskSpec& spec);
  bool Evictable(const ObjectId& id, const StoreEntry& e) const {
    return e.in_memory && e.pins == 0 && wanted_.count(id) == 0;
  }
  void Pin(const ObjectId& id, Lease& l);
  void UnpinAll(Lease& l);
  void LruAdd(const ObjectId& id, StoreEntry& e);
  void LruRemove(const ObjectId& id, StoreEntry& e);
  void Touch(const ObjectId& id, StoreEntry& e);
  void ServeWaitingPulls(const ObjectId& id, Context& cx);
  void EnsureLocal(const ObjectId& id, const Addr& owner, const std::vector<NodeId>& locations, Context& cx);
  void RequestChunks(const ObjectId& id, Pull& p, Context& cx);
  void OnChunk(const ObjectChunk& m, Context& cx);
  void FailFetchers(const ObjectId& id, const std::string& why, Context& cx);
  void PullFailed(const ObjectId& id, const std::string& why, Context& cx);
  std::vector<TaskId> TakeArgWaiters(const ObjectId& id);  // and forgets them
  // Forgets a task waiting for its arguments here (another attempt of it
  // arrived, or its actor stopped); false if there is none.
  bool DropWaiting(const TaskId& id);
  // Another attempt of `spec` waits here for its arguments: the newer one
  // stays. False if `spec` is the older (then it is dropped).
  bool SupersedeWaiting(const TaskSpec& spec, Context& cx);
  void Forward(TaskSpec spec, NodeId target, Context& cx);
  void OnPullRequest(const Addr& from, const PullObject& m, Context& cx);
  void ObjectArrived(const ObjectId& id, Context& cx);
  void MarkDirty(Context& cx);
  void SendReport(Context& cx);
  ResourceSet CpuPart(const ResourceSet& r) const;
  Addr NodeAddr(NodeId n) const { return {n, kNodeManagerProc}; }
  // Actors (node_manager_actors.cc).
  void RouteActorCall(TaskSpec spec, Context& cx);
  void DeliverActorCall(TaskSpec spec, Context& cx);
  void OnCreationDone(const Addr& worker, const TaskDone& m, Context& cx);
  void OnStopActor(const StopActor& m, Context& cx);
  void StopActorWorker(const Addr& worker, const std::string& cause, Context& cx);
  void OnLeaseTimer(uint64_t id, Context& cx);
  bool HasLease(const Context& cx) const { return cx.now() < lease_until_; }

  NodeManagerConfig cfg_;
  ResourceSet available_;
  std::map<NodeId, NodeView> view_;
  // Tasks whose arguments are local, by scheduling class (their demand): a
  // class is served in order and stops at the first task that does not fit.
  std::map<std::vector<ResourceSet::Entry>, std::deque<TaskSpec>> ready_;
  std::unordered_map<TaskId, Queued, IdHash> waiting_args_;
  std::unordered_map<ObjectId, std::vector<TaskId>, IdHash> arg_waiters_;
  ResourceSet queued_demand_;  // of every queued task
  size_t queued_count_ = 0;
  std::set<Addr> idle_workers_;
  std::vector<TaskSpec> infeasible_;
  std::map<Addr, Worker> workers_;  // ordered: deterministic choice of idle worker
  // By worker: one task per worker, and two attempts of one task (a retry
  // that lands where the first still runs) are two leases.
  std::map<Addr, Lease> leases_;
  // Tasks each worker finished lately (owner, task, attempt, name): its
  // result travels to the owner apart from the TaskFinished that ended the
  // lease, so if the worker dies the owner hears of them (it ignores those
  // that did reach it).
  struct Finished {
    Addr owner;
    TaskId task;
    uint32_t attempt = 0;
    std::string name;
  };
  std::map<Addr, std::deque<Finished>> finished_;
  static constexpr size_t kFinishedKept = 16;
  std::deque<Addr> unblock_queue_;
  uint32_t starting_workers_ = 0;
  uint32_t next_proc_ = kFirstUserProc + 64;  // below: drivers
  std::map<ObjectId, StoreEntry> store_;
  uint64_t store_used_ = 0;
  uint64_t store_overflows_ = 0;  // fallback allocations: stored past capacity
  uint64_t store_evictions_ = 0;
  uint64_t store_spills_ = 0;
  uint64_t store_restores_ = 0;
  size_t spilled_objects_ = 0;
  uint64_t next_spill_key_ = 1;
  uint64_t next_entry_seq_ = 1;
  uint64_t lru_clock_ = 0;
  // Evictable entries (in memory, unpinned), least recently used first:
  // secondary copies are evicted, primary copies spilled.
  std::map<uint64_t, ObjectId> lru_secondary_;
  std::map<uint64_t, ObjectId> lru_primary_;
  std::map<ObjectId, uint32_t> wanted_;  // queued tasks here that need each object
  // Pull requests for a spilled object, answered once it is restored.
  std::map<ObjectId, std::vector<std::pair<Addr, uint32_t>>> waiting_pulls_;
  std::map<ObjectId, Pull> pulls_;
  std::map<Addr, std::string> dead_owners_;  // published deaths -> cause: their objects are not stored
  std::map<NodeId, std::string> dead_nodes_;
  bool fenced_ = false;        // declared dead: it stopped its workers and does nothing more
  TimeNs last_ping_ = 0;       // the control service's last HealthCheck
  std::map<ObjectId, std::vector<Fetcher>> fetchers_;
  bool dirty_ = false;
  bool report_armed_ = false;
  uint64_t report_seq_ = 0;
  uint64_t next_retry_id_ = 0;
  std::map<uint64_t, ObjectId> retry_timers_;
  // Actors hosted here: actor -> its worker and incarnation, once created;
  // worker -> actor, from the creation's dispatch on.
  struct Hosted {
    Addr worker;
    uint32_t incarnation = 0;
  };
  std::map<uint64_t, Hosted> actors_;
  std::map<Addr, uint64_t> actor_workers_;
  TimeNs lease_until_ = 0;
  std::map<uint64_t, TimeNs> lease_asks_;  // nonce -> when asked
  uint64_t next_lease_nonce_ = 1;
};

}  // namespace dray
