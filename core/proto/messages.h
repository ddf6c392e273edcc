// Every message between dray processes, as plain value types (DESIGN §2).
// docs/protocol.md says who sends each one, when, and what it causes. The
// order of the alternatives in `Message` is the wire tag: append only.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <msgpack.hpp>

#include "core/common/ids.h"
#include "dray/internal/bytes.h"
#include "core/common/resources.h"

namespace dray {

// Immutable shared bytes (dray/internal/bytes.h): object payloads travel
// without copies in-process, and may live in a node's shared-memory store.
using Buf = internal::Bytes;

// A reference as it travels: which object and who owns it. On the wire a flat
// [task, index, owner node, owner proc] (the adaptor at the end of this file),
// the same form as an ObjectRef nested in a user's value.
struct RefInfo {
  ObjectId id;
  Addr owner;
  bool operator==(const RefInfo&) const = default;
};

// An object's value: the user's msgpack bytes (or an error record), and the
// refs nested inside it (they stay alive while this object does).
struct ObjectValue {
  Buf data;
  bool is_error = false;
  std::vector<RefInfo> contained;
  bool operator==(const ObjectValue&) const = default;
  MSGPACK_DEFINE(data, is_error, contained);
};

// The error record stored as an error object's data.
struct ErrorRecord {
  std::string kind;      // TaskError, WorkerCrashedError, ...
  std::string task_name;
  std::string type;      // the exception's type, for TaskError
  std::string message;
  MSGPACK_DEFINE(kind, task_name, type, message);
};

inline constexpr uint64_t kInlineLimitBytes = 100 * 1024;  // DESIGN §1

struct TaskArg {
  enum Kind : uint8_t { kValue = 0, kRef = 1 };
  uint8_t kind = kValue;
  ObjectValue value;              // kValue; kRef once resolved inline
  RefInfo ref;                    // kRef
  bool resolved = false;          // kRef: value or locations known
  bool in_store = false;          // kRef: large, fetched from `locations`
  std::vector<NodeId> locations;  // kRef && in_store
  uint64_t size = 0;
  MSGPACK_DEFINE(kind, value, ref, resolved, in_store, locations, size);
};

struct TaskSpec {
  TaskId task;
  TaskId parent;
  JobId job = 0;
  std::string function;  // registered name
  std::string name;      // display name (SetName), defaults to function
  std::vector<TaskArg> args;
  uint32_t num_returns = 1;
  ResourceSet resources;
  Addr owner;
  int32_t max_retries = 3;
  bool retry_exceptions = false;
  uint32_t attempt = 0;
  uint32_t spill_count = 0;
  // Actors (docs/actors.md). A creation task starts incarnation `incarnation`
  // of actor `actor` (its id is the creation task's id); a call runs a method
  // on that incarnation, in the caller's order (`actor_seq`; every call of
  // this caller below `actor_done_below` is finished at the caller).
  uint8_t actor_kind = 0;  // kNotActor, kActorCreation, kActorCall
  uint64_t actor = 0;
  uint32_t incarnation = 0;
  uint64_t actor_seq = 0;
  uint64_t actor_done_below = 0;
  bool actor_holds_resources = false;  // creation: keep `resources` while alive (else none)
  // The attempt of `parent` that submitted this task (0 from a driver). An
  // actor drops a call from an older attempt of a caller task once a newer
  // attempt of it has called: the older attempt's worker died (or its node
  // was declared dead) and the task was retried, which starts its calls over.
  uint32_t caller_attempt = 0;
  MSGPACK_DEFINE(task, parent, job, function, name, args, num_returns, resources, owner,
                 max_retries, retry_exceptions, attempt, spill_count, actor_kind, actor, incarnation, actor_seq,
                 actor_done_below, actor_holds_resources, caller_attempt);
};
inline constexpr uint8_t kNotActor = 0;
inline constexpr uint8_t kActorCreation = 1;
inline constexpr uint8_t kActorCall = 2;

// What the control service keeps to (re)start an actor.
struct ActorSpec {
  uint64_t actor = 0;
  Addr owner;
  JobId job = 0;
  std::string name;        // empty: unnamed; else unique in its job while the actor lives
  std::string class_name;  // checked by GetActor<T>
  TaskSpec creation;
  int32_t max_restarts = 0;      // -1: without limit
  int32_t max_task_retries = 0;  // -1: without limit
  uint32_t max_concurrency = 1;
  MSGPACK_DEFINE(actor, owner, job, name, class_name, creation, max_restarts, max_task_retries, max_concurrency);
};
// Actor states (ActorInfo::state).
inline constexpr uint8_t kActorPending = 0;
inline constexpr uint8_t kActorAlive = 1;
inline constexpr uint8_t kActorRestarting = 2;
inline constexpr uint8_t kActorDead = 3;

struct NodeView {
  NodeId node = 0;
  Addr addr;
  ResourceSet total;
  ResourceSet available;
  uint32_t queued = 0;
  MSGPACK_DEFINE(node, addr, total, available, queued);
};

struct ReturnObject {
  ObjectId id;
  ObjectValue value;    // inline (small) results; empty data when stored
  bool stored = false;  // large: in the store of `location`
  NodeId location = 0;
  uint64_t size = 0;
  MSGPACK_DEFINE(id, value, stored, location, size);
};

struct StoredObject {
  ObjectId id;
  Addr owner;
  ObjectValue value;
  MSGPACK_DEFINE(id, owner, value);
};

// --- control service ---
struct RegisterNode { NodeId node = 0; Addr addr; ResourceSet total; uint64_t store_capacity = 0;
  MSGPACK_DEFINE(node, addr, total, store_capacity); };
struct ResourceReport { NodeId node = 0; ResourceSet available; uint32_t queued = 0;
  std::vector<ResourceSet> infeasible; uint64_t seq = 0;
  MSGPACK_DEFINE(node, available, queued, infeasible, seq); };
struct ClusterView { uint64_t version = 0; std::vector<NodeView> nodes;
  MSGPACK_DEFINE(version, nodes); };
struct RegisterJob { Addr driver; MSGPACK_DEFINE(driver); };
struct JobRegistered { JobId job = 0; MSGPACK_DEFINE(job); };
// --- tasks ---
struct SubmitTask { TaskSpec spec; MSGPACK_DEFINE(spec); };
struct ExecuteTask { TaskSpec spec; MSGPACK_DEFINE(spec); };
struct TaskDone { TaskId task; uint32_t attempt = 0; Addr worker; std::vector<ReturnObject> returns;
  MSGPACK_DEFINE(task, attempt, worker, returns); };
struct TaskFinished { TaskId task; std::vector<StoredObject> stored; bool owns_objects = false;
  MSGPACK_DEFINE(task, stored, owns_objects); };
struct RegisterWorker { Addr worker; MSGPACK_DEFINE(worker); };
struct WorkerBlocked { TaskId task; MSGPACK_DEFINE(task); };
struct WorkerUnblocked { TaskId task; MSGPACK_DEFINE(task); };
struct ResumeGrant { TaskId task; MSGPACK_DEFINE(task); };
// --- objects ---
struct PutObject { StoredObject object; MSGPACK_DEFINE(object); };
struct FetchObject { ObjectId id; Addr owner; std::vector<NodeId> locations; uint64_t request = 0;
  MSGPACK_DEFINE(id, owner, locations, request); };
struct ObjectReady { ObjectId id; uint64_t request = 0; bool ok = false; ObjectValue value; std::string error;
  MSGPACK_DEFINE(id, request, ok, value, error); };
struct PullObject { ObjectId id; uint32_t chunk = 0; MSGPACK_DEFINE(id, chunk); };
struct ObjectChunk { ObjectId id; bool found = false; uint32_t chunk = 0; uint32_t num_chunks = 0;
  uint64_t size = 0; bool is_error = false; std::vector<RefInfo> contained; Addr owner; Buf data;
  MSGPACK_DEFINE(id, found, chunk, num_chunks, size, is_error, contained, owner, data); };
struct FreeObjects { std::vector<ObjectId> ids; MSGPACK_DEFINE(ids); };
struct AddObjectLocation { ObjectId id; NodeId node = 0; MSGPACK_DEFINE(id, node); };
// --- ownership and borrowing ---
struct GetObjectStatus { ObjectId id; MSGPACK_DEFINE(id); };
struct ObjectStatus { ObjectId id; bool found = false; bool in_store = false; ObjectValue value;
  std::vector<NodeId> locations; uint64_t size = 0;
  MSGPACK_DEFINE(id, found, in_store, value, locations, size); };
struct AddBorrower { ObjectId id; MSGPACK_DEFINE(id); };
struct AddBorrowerAck { ObjectId id; bool found = false; MSGPACK_DEFINE(id, found); };
struct RemoveBorrower { ObjectId id; uint32_t count = 1; MSGPACK_DEFINE(id, count); };
struct ReturnRefsAck { TaskId task; MSGPACK_DEFINE(task); };
// An idle worker's ownership changed: only workers that own nothing retire.
struct WorkerOwnership { bool owns_objects = false; MSGPACK_DEFINE(owns_objects); };
// Failures (docs/fault-tolerance.md).
// The process runtime -> a node manager: one of its workers exited (crashed,
// was killed, or died with its node). Sent as if from the worker.
struct WorkerDied { Addr worker; std::string cause; MSGPACK_DEFINE(worker, cause); };
// A node manager -> a task's owner: the attempt could not finish (its worker
// died). The owner retries it or completes its returns with the error.
struct TaskFailed { TaskId task; uint32_t attempt = 0; std::string kind; std::string message;
  MSGPACK_DEFINE(task, attempt, kind, message); };
// Deaths, published: a node -> the control service (one of its workers died),
// the control service -> every node and driver, a node -> its workers. Objects
// owned by a dead process are gone with it (OwnerDiedError for borrowers).
struct Deaths { std::vector<Addr> procs; std::vector<NodeId> nodes; std::string cause;
  MSGPACK_DEFINE(procs, nodes, cause); };
// Failure detection: the control service pings every node each period; a node
// that misses `health_misses` periods in a row is declared dead.
struct HealthCheck { uint64_t seq = 0; MSGPACK_DEFINE(seq); };
struct HealthCheckAck { NodeId node = 0; uint64_t seq = 0; MSGPACK_DEFINE(node, seq); };
// A node -> a task's owner: the task was forwarded to `node` (its `hop`-th
// placement), so the owner knows which node's death loses it.
struct TaskPlaced { TaskId task; uint32_t attempt = 0; NodeId node = 0; uint32_t hop = 0;
  MSGPACK_DEFINE(task, attempt, node, hop); };
// --- actors (docs/actors.md) ---
// The creator's owner -> the control service, once the constructor's
// arguments are resolved. The creator is subscribed to the actor's state.
struct RegisterActor { ActorSpec spec; MSGPACK_DEFINE(spec); };
struct ActorRegistered { uint64_t actor = 0; bool ok = false; std::string error; MSGPACK_DEFINE(actor, ok, error); };
// A process -> the control service: subscribe to an actor's state (by id),
// or look a named actor up (actor 0, `name` in `job`); answered with ActorInfo.
struct GetActorInfo { uint64_t actor = 0; std::string name; JobId job = 0; uint64_t request = 0;
  MSGPACK_DEFINE(actor, name, job, request); };
// The control service -> subscribers: an actor's state, on every change.
struct ActorInfo { uint64_t actor = 0; uint64_t request = 0; bool found = false; uint8_t state = 0;
  uint32_t incarnation = 0; Addr worker; Addr owner; std::string class_name; int32_t max_task_retries = 0;
  std::string cause;
  MSGPACK_DEFINE(actor, request, found, state, incarnation, worker, owner, class_name, max_task_retries, cause); };
// A process -> the control service: Kill (restarted if allowed, unless
// no_restart); also the owner when every handle is gone.
struct KillActor { uint64_t actor = 0; bool no_restart = true; std::string cause;
  MSGPACK_DEFINE(actor, no_restart, cause); };
// The control service -> a node: stop the worker of that incarnation.
struct StopActor { uint64_t actor = 0; uint32_t incarnation = 0; std::string cause;
  MSGPACK_DEFINE(actor, incarnation, cause); };
// Fencing: a node runs actors only while it holds a lease from the control
// service, granted for `lease` from when the node asked (its own clock), and
// shorter than the time it takes to declare the node dead.
struct RenewLease { NodeId node = 0; uint64_t nonce = 0; MSGPACK_DEFINE(node, nonce); };
struct LeaseGranted { uint64_t nonce = 0; MSGPACK_DEFINE(nonce); };

// Spilling (docs/protocol.md, "Object store"): the backend -> the node
// manager, as if from the node itself, when an EfRestore finished: the spilled
// bytes of `id` read back from spill `key` (ok), or why they could not be.
struct ObjectRestored { ObjectId id; uint64_t key = 0; bool ok = false; Buf data; std::string error;
  MSGPACK_DEFINE(id, key, ok, data, error); };
// Node -> owner: the node no longer holds a copy of `id` (a secondary copy
// evicted under memory pressure, or a spilled copy that could not be read
// back). The owner forgets the location; an object left with none is rebuilt
// when next needed (lineage), or is lost.
struct RemoveObjectLocation { ObjectId id; NodeId node = 0; MSGPACK_DEFINE(id, node); };

using Message = std::variant<RegisterNode, ResourceReport, ClusterView, RegisterJob, JobRegistered,
                             SubmitTask, ExecuteTask, TaskDone, TaskFinished, RegisterWorker,
                             WorkerBlocked, WorkerUnblocked, ResumeGrant, PutObject, FetchObject,
                             ObjectReady, PullObject, ObjectChunk, FreeObjects, AddObjectLocation,
                             GetObjectStatus, ObjectStatus, AddBorrower, AddBorrowerAck,
                             RemoveBorrower, ReturnRefsAck, WorkerOwnership, WorkerDied, TaskFailed, Deaths, HealthCheck,
                             HealthCheckAck, TaskPlaced, RegisterActor, ActorRegistered, GetActorInfo, ActorInfo,
                             KillActor, StopActor, RenewLease, LeaseGranted, ObjectRestored,
                             RemoveObjectLocation>;

const char* MessageName(const Message& m);
const char* MessageName(size_t index);

}  // namespace dray

namespace dray {
// Frames (codec.h): a Buf of at least this many bytes, encoded as part of a
// frame, travels as an attachment: the header holds EXT(kAttachmentExt) with
// its 4-byte little-endian index.
inline constexpr size_t kAttachMinBytes = 16 * 1024;
inline constexpr int8_t kAttachmentExt = 1;
namespace internal {
struct FrameSink {
  std::vector<Buf> attachments;
};
struct FrameSource {
  const std::vector<Buf>* attachments = nullptr;
  std::vector<uint8_t> used;
};
// Set by EncodeFrame / DecodeFrame for the duration of one call.
inline thread_local FrameSink* tls_frame_sink = nullptr;
inline thread_local FrameSource* tls_frame_source = nullptr;
// The attachment an EXT refers to; throws msgpack::type_error (with a reason)
// when there is no frame, the index is out of range or used twice.
Buf TakeAttachment(const msgpack::object& o);
}  // namespace internal
}  // namespace dray

// Buf travels as msgpack BIN (or, in a frame, as an attachment); RefInfo as a
// flat 4-element array.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<dray::Buf> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::Buf& b) const {
    std::string_view s = b.view();
    if (dray::internal::FrameSink* sink = dray::internal::tls_frame_sink;
        sink && s.size() >= dray::kAttachMinBytes) {
      // A large payload travels beside the header (see Frame in codec.h).
      uint32_t index = static_cast<uint32_t>(sink->attachments.size());
      sink->attachments.push_back(b);
      char body[4] = {static_cast<char>(index), static_cast<char>(index >> 8), static_cast<char>(index >> 16),
                      static_cast<char>(index >> 24)};
      o.pack_ext(4, dray::kAttachmentExt);
      o.pack_ext_body(body, 4);
      return o;
    }
    o.pack_bin(static_cast<uint32_t>(s.size()));
    o.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
    return o;
  }
};
template <>
struct convert<dray::Buf> {
  const msgpack::object& operator()(const msgpack::object& o, dray::Buf& b) const {
    if (o.type == msgpack::type::BIN) b = dray::Buf(std::string(o.via.bin.ptr, o.via.bin.size));
    else if (o.type == msgpack::type::STR) b = dray::Buf(std::string(o.via.str.ptr, o.via.str.size));
    else if (o.type == msgpack::type::NIL) b = dray::Buf();
    else if (o.type == msgpack::type::EXT) b = dray::internal::TakeAttachment(o);
    else throw msgpack::type_error();
    return o;
  }
};
template <>
struct pack<dray::RefInfo> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const dray::RefInfo& r) const {
    o.pack_array(4);
    o.pack(r.id.task);
    o.pack(r.id.index);
    o.pack(r.owner.node);
    o.pack(r.owner.proc);
    return o;
  }
};
template <>
struct convert<dray::RefInfo> {
  const msgpack::object& operator()(const msgpack::object& o, dray::RefInfo& r) const {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) throw msgpack::type_error();
    const msgpack::object* f = o.via.array.ptr;
    r.id.task = f[0].as<uint64_t>();
    r.id.index = f[1].as<uint32_t>();
    r.owner.node = f[2].as<dray::NodeId>();
    r.owner.proc = f[3].as<uint32_t>();
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
