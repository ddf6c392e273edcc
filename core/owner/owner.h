// The Owner lives in every driver and worker process. It owns the tasks its
// process submitted and their return objects, and the objects it Put:
// reference counts (local handles, holds by pending tasks, refs nested in
// values, borrowers in other processes), values or locations, dependency
// resolution, Get/Wait, and, in a worker, the task being executed.
//
// Borrowing protocol (docs/protocol.md): a process that comes to hold a ref it
// does not own registers with the owner (AddBorrower) and, until every
// registration is acknowledged, defers every message that could let a ref it
// received go (RemoveBorrower, TaskDone, ReturnRefsAck). Refs returned inside
// a task's value stay held by the executor until the submitter acknowledges.
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

struct OwnerConfig {
  Addr addr;
  Addr node;  // this process's node manager
  Addr gcs;
  bool is_worker = false;
  uint64_t seed = 0;
  uint64_t inline_limit = kInlineLimitBytes;  // returns and puts above it go to the node's store
  uint32_t lineage_cap = 100'000;             // finished tasks whose lineage is kept, per owner
  BuggifyConfig buggify;                      // off unless the simulator turns it on
  MSGPACK_DEFINE(addr, node, gcs, is_worker, seed, inline_limit, lineage_cap, buggify);
};

// An error object's value: an ErrorRecord of `kind` (TaskError, ...).
ObjectValue ErrorValue(const std::string& kind, const std::string& message);

// Waiter id of the start handshake (a driver's Init waits for its job id).
inline constexpr uint64_t kStartWaiter = 0;

class Owner final : public Component {
 public:
  explicit Owner(OwnerConfig cfg) : cfg_(std::move(cfg)) {}
  void Step(const Input& in, Context& cx) override;
  void CheckInvariants() const override;
  const char* Kind() const override { return cfg_.is_worker ? "worker" : "driver"; }

  const Addr& addr() const { return cfg_.addr; }
  JobId job() const { return job_; }
  size_t owned_objects() const { return owned_.size(); }
  size_t borrowed_objects() const { return borrowed_.size(); }
  size_t pending_tasks() const { return tasks_.size(); }
  size_t waiters() const { return waiters_.size(); }
  size_t lineage_entries() const { return lineage_.size(); }
  // What this owner still waits for (a deadlock report), at most `max` items.
  std::string Pending(size_t max = 8) const;
  uint64_t reconstructions() const { return reconstructions_; }
  // The value hash of every object this owner has seen complete (for the sim's
  // "one id, one value" invariant).
  static constexpr uint64_t kWaitTimerBase = 1ull << 62;
  static constexpr uint64_t kFetchRetryBase = 1ull << 61;  // below kWaitTimerBase
  static constexpr uint64_t kHoldTimerBase = 1ull << 60;   // below kFetchRetryBase: a held-back submission
  static constexpr uint64_t kResubmitTimerBase = 1ull << 59;  // below kHoldTimerBase: a buggify resubmission
  static constexpr TimeNs kFetchRetryNs = 10'000'000;
  static constexpr uint32_t kFetchRetries = 5;
  static constexpr uint32_t kFreeArgumentRetries = 10;  // per task, not counted against max_retries

 private:
  struct Owned {
    bool ready = false;
    bool in_store = false;
    ObjectValue value;              // inline value (and contained refs of stored ones)
    std::vector<NodeId> locations;  // in_store
    uint64_t size = 0;
    int64_t refs = 0;               // handles, task holds, containment, parked returns
    int64_t borrowers = 0;          // registrations by other processes ...
    std::map<Addr, int64_t> borrowed_by;  // ... by process: a dead one's are dropped
    std::vector<Addr> status_requests;
    bool lost_copies = false;       // ready and in_store, but every copy died: rebuild before use
    uint32_t fetch_failures = 0;    // fetches that failed while its copies seemed alive
    std::string lost_why;           // lost for good (ObjectLostError), when not empty
  };
  struct Borrowed {
    Addr owner;
    int64_t refs = 0;
    uint32_t registered = 0;
    bool status_requested = false;
    bool ready = false;
    bool lost = false;
    std::string lost_kind = "ObjectLostError";  // or OwnerDiedError
    std::string lost_why;
    bool in_store = false;
    ObjectValue value;
    std::vector<NodeId> locations;
    uint64_t size = 0;
  };
  struct PendingTask {
    TaskSpec spec;
    uint32_t unresolved = 0;
    bool submitted = false;
    int32_t retries_left = 0;
    std::vector<RefInfo> holds;  // released when the task ends (or kept by its lineage)
    uint32_t argument_losses = 0;  // attempts that failed only because an argument was lost
    NodeId placed = 0;           // the node it was last forwarded to (TaskPlaced) ...
    uint32_t placed_hop = 0;     // ... and how many hops that took
    bool held = false;           // buggify: its (re)submission waits for a hold timer
  };
  // What re-runs a finished task whose stored returns were all lost: its spec
  // (ref arguments unresolved) and the holds on its arguments, kept while any
  // of its returns is alive (and at most `lineage_cap` of them, oldest dropped).
  struct Lineage {
    TaskSpec spec;
    std::vector<RefInfo> holds;
    int32_t retries_left = 0;
    uint32_t live_returns = 0;
  };
  struct Waiter {
    bool is_get = true;
    std::vector<RefInfo> refs;
    uint32_t num_returns = 0;
    size_t unready = 0;  // refs not ready yet: counted, never rescanned
    bool has_timer = false;
    bool done = false;
  };
  struct Fetch {
    uint64_t request = 0;
    bool done = false;
    ObjectValue value;
    uint32_t users = 0;
  };

  void StepInner(const Input& in, Context& cx);
  void OnCommand(const Command& cmd, Context& cx);
  void OnDeliver(const Addr& from, const Message& msg, Context& cx);
  void Submit(TaskSpec spec, Context& cx, Addr actor_owner = {});
  // Files a pending task: holds its ref arguments (and refs nested in its
  // values) and starts resolving them.
  PendingTask& FileTask(PendingTask t, TaskSpec spec, Context& cx);
  void ResolveArgs(PendingTask& t, Context& cx);
  void MaybeSubmit(PendingTask& t, Context& cx);
  void OnTaskDone(const Addr& from, const TaskDone& m, Context& cx);
  void OnTaskFailed(const TaskFailed& m, Context& cx);
  void OnDeaths(const Deaths& m, Context& cx);
  void RetryOrFail(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const std::string& kind,
                   const std::string& message, Context& cx);
  // Rebuilds a lost stored object by re-running its task (and, through its
  // arguments, whatever else is lost and needed). False if it cannot: then
  // the object is lost for good.
  bool Reconstruct(const ObjectId& id, Context& cx);
  void DropLineage(const TaskId& task, Context& cx);
  void MarkRebuilding(Owned& o, Context& cx);
  void HoldBack(const TaskId& task, PendingTask& t, Context& cx);  // buggify
  void Resubmit(const TaskId& task, uint32_t attempt, Context& cx);  // buggify
  void HoldTimerFired(uint64_t id, Context& cx);
  void WakeFetchWaiters(const ObjectId& id, Context& cx);
  ObjectValue LostValue(const RefInfo& r) const;
  bool IsDead(const Addr& a) const;
  void OnTaskReturned(const CmdTaskReturned& c, Context& cx);
  // Completes every return of a pending task that is not ready with `err`,
  // and forgets the task.
  void FailTask(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const ObjectValue& err, Context& cx);

  // Actors (owner_actors.cc). Caller side: calls go to the actor's node in
  // the order of their sequence numbers, wait while the actor is not alive,
  // and are retried or failed when the incarnation they went to is gone.
  void CreateActor(const CmdCreateActor& c, Context& cx);
  void RegisterCreation(PendingTask& t, Context& cx);
  void SubmitActorCall(PendingTask& t, Context& cx);
  void OnActorInfo(const ActorInfo& m, Context& cx);
  void OnActorRegistered(const ActorRegistered& m, Context& cx);
  void ReviewActorCalls(uint64_t actor, Context& cx);
  void OnActorCallFailed(std::unordered_map<TaskId, PendingTask, IdHash>::iterator it, const TaskFailed& m,
                         Context& cx);
  void ActorCallEnded(const TaskSpec& spec);
  void KillActor(const CmdKillActor& c, Context& cx);
  void AnchorFreed(const ObjectId& id, Context& cx);
  // Worker side: calls are queued per caller and run in sequence order.
  void QueueActorCall(const TaskSpec& spec, Context& cx);
  void RunNextActorCall(Context& cx);

  // Reference counting.
  void Hold(const RefInfo& r, Context& cx);
  void Release(const RefInfo& r, Context& cx);
  void MaybeFree(const ObjectId& id, Context& cx);
  void SendRelease(Addr to, Message m, Context& cx);  // deferred while registrations are unacked
  void FlushDeferred(Context& cx);

  // Object status.
  bool IsReady(const RefInfo& r) const;
  bool IsLost(const RefInfo& r) const;
  void Track(const RefInfo& r, Context& cx);  // ask the owner of a borrowed ref for its status
  void ObjectBecameReady(const ObjectId& id, Context& cx);
  static ObjectStatus StatusOf(const ObjectId& id, const Owned& o);  // REQUIRES: o.ready
  bool ValueAvailable(const RefInfo& r, Context& cx);  // fetches large values to this node
  ObjectValue ValueOf(const RefInfo& r) const;
  void FillArg(TaskArg& a) const;

  // Waiters (Get / Wait).
  void CheckWaiter(uint64_t id, Context& cx);
  void CheckWaiterNow(uint64_t id, Context& cx);
  void RefReady(uint64_t waiter, Context& cx);  // one of the waiter's refs became ready
  void CompleteWaiter(uint64_t id, uint8_t status, Context& cx);
  void DeliverCompletion(EfCompleteWait ef, Context& cx);

  OwnerConfig cfg_;
  JobId job_ = 0;
  TaskId current_task_;
  uint64_t task_counter_ = 0;
  uint32_t put_counter_ = 0;
  std::unordered_map<ObjectId, Owned, IdHash> owned_;
  std::unordered_map<ObjectId, Borrowed, IdHash> borrowed_;
  std::unordered_map<TaskId, PendingTask, IdHash> tasks_;
  std::unordered_map<TaskId, Lineage, IdHash> lineage_;
  std::deque<TaskId> lineage_order_;  // oldest first, for the cap
  uint64_t reconstructions_ = 0;
  std::map<uint64_t, ObjectId> fetch_retries_;  // timer -> object to fetch again
  std::map<uint64_t, TaskId> holds_timers_;  // buggify: hold timer -> the task held back
  std::map<uint64_t, std::pair<TaskId, uint32_t>> resubmit_timers_;  // buggify: timer -> (task, attempt sent)
  uint64_t next_hold_ = 0;
  bool checking_ = false;          // inside CheckWaiter
  std::deque<uint64_t> recheck_;   // waiters to check once it returns
  uint64_t next_fetch_retry_ = 0;
  // object -> tasks and waiters that wait for it (ordered vectors: deterministic)
  std::unordered_map<ObjectId, std::vector<TaskId>, IdHash> dependents_;
  std::unordered_map<ObjectId, std::vector<uint64_t>, IdHash> object_waiters_;
  std::map<uint64_t, Waiter> waiters_;
  std::unordered_map<ObjectId, Fetch, IdHash> fetches_;
  std::unordered_map<ObjectId, std::vector<uint64_t>, IdHash> fetch_waiters_;
  uint64_t next_fetch_ = 1;
  uint32_t unacked_borrows_ = 0;
  std::map<Addr, uint32_t> unacked_by_owner_;  // the same, by owner
  std::vector<std::pair<Addr, Message>> deferred_;
  // Published deaths: a process, or {node, kAnyProc} for a whole node -> cause.
  std::map<Addr, std::string> dead_;
  // Worker side.
  std::optional<TaskSpec> executing_;
  bool blocked_ = false;
  bool unblock_sent_ = false;
  bool reported_owns_ = false;  // what the node last heard (TaskFinished / WorkerOwnership)
  std::deque<EfCompleteWait> held_completions_;  // waiting for ResumeGrant
  std::unordered_map<TaskId, std::vector<RefInfo>, IdHash> parked_;
  // Actors, caller side.
  struct ActorClient {
    ActorInfo info;            // last heard from the control service (found: heard at all)
    bool subscribed = false;
    std::string killed;        // Kill(no_restart) from this process: new calls fail at once
    Addr owner;                // the actor's owner (its creator)
    uint64_t next_seq = 0;
    std::map<uint64_t, TaskId> unfinished;  // seq -> call, until it completes or fails
  };
  std::map<uint64_t, ActorClient> actor_clients_;
  struct Created {
    std::vector<RefInfo> holds;  // the constructor's arguments: kept for restarts
    uint64_t waiter = 0;         // a named creation waits for the name
    ActorSpec spec;
  };
  std::map<uint64_t, Created> created_;  // actors this process created, until they die
  // Actors, worker side (this worker hosts one).
  struct CallerQueue {
    uint64_t next = 0;
    std::map<uint64_t, TaskSpec> waiting;
  };
  std::map<Addr, CallerQueue> callers_;
  // The newest attempt (above 0) of each retried caller task that called
  // here: calls from its older attempts are dropped (QueueActorCall).
  std::map<TaskId, uint32_t> caller_attempts_;
  std::deque<TaskSpec> runnable_calls_;
};

}  // namespace dray
