// The seam between the public API and whichever backend runs the process (the
// simulator or a real cluster). Users never call this directly.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "dray/internal/bytes.h"

namespace dray::internal {

struct RefData {
  uint64_t task = 0;
  uint32_t index = 0;
  uint32_t owner_node = 0;
  uint32_t owner_proc = 0;
  bool operator==(const RefData&) const = default;
};

struct ValueData {
  Bytes data;  // msgpack bytes, or an error record
  bool is_error = false;
  std::vector<RefData> contained;  // refs nested inside the value
  // Handles on `contained`, kept until the runtime has counted the value's
  // holds (a task's return value outlives the handles the task dropped).
  std::vector<std::shared_ptr<const void>> pins;
};

struct ArgData {
  bool is_ref = false;
  RefData ref;      // is_ref: resolved to its value before the call runs
  ValueData value;  // !is_ref
};

struct TaskOptions {
  std::string function;  // registered name
  std::string name;      // display name
  std::map<std::string, double> resources{{"CPU", 1.0}};
  std::optional<int> max_retries;  // unset: the cluster's default (Ray's: 3)
  bool retry_exceptions = false;
};

struct ActorOptions {
  std::string factory;     // registered name of the factory (T* Create(...))
  std::string class_name;  // the actor's type, checked by GetActor<T>
  std::string name;        // empty: unnamed
  std::map<std::string, double> resources{{"CPU", 1.0}};  // to place it
  bool resources_set = false;  // explicit resources are held while it lives
  std::optional<int> max_restarts;      // unset: the cluster's default (Ray's: 0)
  std::optional<int> max_task_retries;  // unset: the cluster's default (Ray's: 0)
  int max_concurrency = 1;
};

// The actor instance of this worker process (set by its factory).
struct ActorSlot {
  std::shared_ptr<void> instance;
  const std::type_info* type = nullptr;
  std::string class_name;
};

struct WaitOutcome {
  bool timed_out = false;
  std::vector<ValueData> values;  // Get
  std::vector<bool> ready;        // Wait
};

// One per driver or worker process; every call comes from that process's own
// user thread.
class ProcessRuntime {
 public:
  virtual ~ProcessRuntime() = default;
  virtual RefData Submit(const TaskOptions& opts, std::vector<ArgData> args) = 0;
  virtual RefData Put(ValueData value) = 0;
  // timeout_ns < 0: no limit.
  virtual WaitOutcome Get(const std::vector<RefData>& refs, int64_t timeout_ns) = 0;
  virtual WaitOutcome Wait(const std::vector<RefData>& refs, int num_returns, int64_t timeout_ns) = 0;
  virtual void AddRef(const RefData& ref) = 0;
  virtual void RemoveRef(const RefData& ref) = 0;
  virtual int64_t NowNs() = 0;
  virtual void SleepNs(int64_t ns) = 0;
  // False once the process ended: handles released after that do nothing.
  virtual std::shared_ptr<const bool> AliveFlag() = 0;
  // Actors. An actor is known by its handle object (anchor): a ref owned by
  // its creator, whose task id is the actor's id.
  virtual RefData CreateActor(const ActorOptions& opts, std::vector<ArgData> args) = 0;
  virtual RefData SubmitActorTask(const RefData& anchor, const TaskOptions& opts, std::vector<ArgData> args) = 0;
  // The named actor's handle object and class, if it is alive.
  virtual std::optional<std::pair<RefData, std::string>> GetActor(const std::string& name) = 0;
  virtual void KillActor(const RefData& anchor, bool no_restart) = 0;
  virtual ActorSlot& Actor() = 0;
};

// The runtime of the process this thread runs in; nullptr outside dray.
ProcessRuntime* CurrentRuntime();
ProcessRuntime& RequireRuntime();  // throws dray::Error when not initialized

// A live handle on a ref: created and destroyed in its process's thread; its
// destruction after that process ended is a no-op.
class RefHandle {
 public:
  RefHandle(RefData ref, ProcessRuntime* rt, std::shared_ptr<const bool> alive)
      : ref_(ref), rt_(rt), alive_(std::move(alive)) {}
  ~RefHandle();
  RefHandle(const RefHandle&) = delete;
  RefHandle& operator=(const RefHandle&) = delete;
  const RefData& ref() const { return ref_; }

 private:
  RefData ref_;
  ProcessRuntime* rt_;
  std::shared_ptr<const bool> alive_;
};

// Registers a new handle with the current process (AddRef) and returns it.
std::shared_ptr<RefHandle> MakeHandle(const RefData& ref);

// Refs met while serializing a value are collected here (thread-local).
class ContainedRefs {
 public:
  ContainedRefs();
  ~ContainedRefs();
  std::vector<RefData> refs;
  std::vector<std::shared_ptr<const void>> pins;
  static void Note(const RefData& r, std::shared_ptr<const void> pin);

 private:
  ContainedRefs* prev_;
};

}  // namespace dray::internal
