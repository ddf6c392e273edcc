// The state-machine contract of DESIGN §2: a component is stepped with one
// Input at a time and appends every effect to the Context's outbox as data.
// It reads no clock (cx.now()), draws no randomness of its own (cx.rng()),
// does no I/O and starts no thread.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/common/prng.h"
#include "core/proto/messages.h"
#include "core/proto/variant_adaptor.h"

namespace dray {

// ---- local commands: user API calls handed to the process's Owner ----
struct CmdStart { MSGPACK_DEFINE(); };
// task/owner/job filled by the Owner. An actor call names its actor's owner
// (the call holds the actor's handle object while it is pending).
struct CmdSubmit { TaskSpec spec; Addr actor_owner; MSGPACK_DEFINE(spec, actor_owner); };
struct CmdPut { ObjectValue value; MSGPACK_DEFINE(value); };
struct CmdGet { uint64_t waiter = 0; std::vector<RefInfo> refs; TimeNs timeout_ns = -1;
  MSGPACK_DEFINE(waiter, refs, timeout_ns); };
struct CmdWait { uint64_t waiter = 0; std::vector<RefInfo> refs; uint32_t num_returns = 1;
  TimeNs timeout_ns = -1; MSGPACK_DEFINE(waiter, refs, num_returns, timeout_ns); };
struct CmdAddRef { RefInfo ref; MSGPACK_DEFINE(ref); };
struct CmdRemoveRef { RefInfo ref; MSGPACK_DEFINE(ref); };
struct CmdTaskReturned { TaskId task; std::vector<ObjectValue> returns; MSGPACK_DEFINE(task, returns); };
// Actors. CreateActor returns the actor's id and its handle object at once;
// a named actor's creator then waits (`waiter`) for the name to be accepted.
struct CmdCreateActor { uint64_t waiter = 0; ActorSpec spec; MSGPACK_DEFINE(waiter, spec); };
// Completes `waiter` with the named actor's ActorInfo (packed), or not found.
struct CmdGetActor { uint64_t waiter = 0; std::string name; MSGPACK_DEFINE(waiter, name); };
struct CmdKillActor { uint64_t actor = 0; bool no_restart = true; MSGPACK_DEFINE(actor, no_restart); };
using Command = std::variant<CmdStart, CmdSubmit, CmdPut, CmdGet, CmdWait, CmdAddRef, CmdRemoveRef,
                             CmdTaskReturned, CmdCreateActor, CmdGetActor, CmdKillActor>;

// ---- inputs ----
struct InDeliver { Addr from; Message msg; MSGPACK_DEFINE(from, msg); };
struct InTimer { uint64_t id = 0; MSGPACK_DEFINE(id); };
struct InCommand { Command cmd; MSGPACK_DEFINE(cmd); };
using Input = std::variant<InDeliver, InTimer, InCommand>;

// ---- effects ----
struct EfSend { Addr to; Message msg; MSGPACK_DEFINE(to, msg); };
struct EfSetTimer { uint64_t id = 0; TimeNs at = 0; MSGPACK_DEFINE(id, at); };
struct EfCancelTimer { uint64_t id = 0; MSGPACK_DEFINE(id); };
struct EfStartWorker { Addr worker; MSGPACK_DEFINE(worker); };
struct EfStopWorker { Addr worker; MSGPACK_DEFINE(worker); };
struct EfRunTask { TaskSpec spec; MSGPACK_DEFINE(spec); };
// Wakes the user thread blocked on `waiter`. status: kWaitOk, kWaitTimeout.
struct EfCompleteWait { uint64_t waiter = 0; uint8_t status = 0; std::vector<ObjectValue> values;
  std::vector<uint8_t> ready; MSGPACK_DEFINE(waiter, status, values, ready); };
struct EfCommandResult { TaskId task; std::vector<ObjectId> ids; MSGPACK_DEFINE(task, ids); };
// A durable record (the control service's tables): written, or erased,
// before the messages of the same step leave (DESIGN §2). The backend keeps
// them in SQLite; a restarted component gets them back in its config.
struct EfPersist { std::string table; std::string key; std::string value; bool erase = false;
  MSGPACK_DEFINE(table, key, value, erase); };
struct PersistRecord { std::string table; std::string key; std::string value;
  MSGPACK_DEFINE(table, key, value); };
// The node's spill storage (a disk): keys are node-local and never reused by
// one node manager. EfSpill writes `data` under `key` (the node counts the
// bytes as gone from memory at once; the backend holds them until written).
// EfRestore reads `key` back; the backend steps ObjectRestored into the node
// manager when done. EfDeleteSpill removes `key` (freed object); a missing key
// is no error.
struct EfSpill { uint64_t key = 0; ObjectId id; Buf data; MSGPACK_DEFINE(key, id, data); };
struct EfRestore { uint64_t key = 0; ObjectId id; uint64_t size = 0; MSGPACK_DEFINE(key, id, size); };
struct EfDeleteSpill { uint64_t key = 0; MSGPACK_DEFINE(key); };
using Effect = std::variant<EfSend, EfSetTimer, EfCancelTimer, EfStartWorker, EfStopWorker, EfRunTask,
                            EfCompleteWait, EfCommandResult, EfPersist, EfSpill, EfRestore, EfDeleteSpill>;
inline constexpr uint8_t kWaitOk = 0;
inline constexpr uint8_t kWaitTimeout = 1;

class Context {
 public:
  Context(TimeNs now, Prng* rng, std::vector<Effect>* out) : now_(now), rng_(rng), out_(out) {}
  TimeNs now() const { return now_; }
  Prng& rng() { return *rng_; }
  void Emit(Effect e) { out_->push_back(std::move(e)); }
  void Send(Addr to, Message m) { out_->push_back(EfSend{to, std::move(m)}); }
  void SetTimer(uint64_t id, TimeNs at) { out_->push_back(EfSetTimer{id, at}); }
  void CancelTimer(uint64_t id) { out_->push_back(EfCancelTimer{id}); }

 private:
  TimeNs now_;
  Prng* rng_;
  std::vector<Effect>* out_;
};

class Component {
 public:
  virtual ~Component() = default;
  virtual void Step(const Input& in, Context& cx) = 0;
  virtual void CheckInvariants() const = 0;
  virtual const char* Kind() const = 0;
};

}  // namespace dray
