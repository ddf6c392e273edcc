#include "core/api/user_calls.h"

#include <cxxabi.h>

#include <cstdlib>

#include "core/proto/codec.h"
#include "dray/errors.h"
#include "dray/remote.h"

namespace dray::internal {

namespace {
std::string Demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : name;
  std::free(d);
  return out;
}

void CheckRetries(const std::string& what, const char* option, int n) {
  if (n < -1)
    throw Error("dray: " + what + ": " + option + " " + std::to_string(n) + " is invalid (-1 without limit, 0 never)");
}

void SetResources(const std::string& what, const std::map<std::string, double>& from, ResourceSet* to) {
  for (const auto& [k, v] : from) {
    if (v < 0) throw Error("dray: " + what + ": resource '" + k + "' must not be negative");
    to->SetUnits(k, v);
  }
}
}  // namespace

RefInfo ToRefInfo(const RefData& r) { return {{r.task, r.index}, {r.owner_node, r.owner_proc}}; }
RefData ToRefData(const RefInfo& r) { return {r.id.task, r.id.index, r.owner.node, r.owner.proc}; }

ObjectValue ToObjectValue(const ValueData& v) {
  ObjectValue o;
  o.data = v.data;
  o.is_error = v.is_error;
  for (const auto& r : v.contained) o.contained.push_back(ToRefInfo(r));
  return o;
}

ValueData ToValueData(const ObjectValue& o) {
  ValueData v;
  v.data = o.data;
  v.is_error = o.is_error;
  for (const auto& r : o.contained) v.contained.push_back(ToRefData(r));
  return v;
}

std::vector<TaskArg> ToTaskArgs(std::vector<ArgData>& args) {
  std::vector<TaskArg> out;
  out.reserve(args.size());
  for (auto& a : args) {
    TaskArg t;
    if (a.is_ref) {
      t.kind = TaskArg::kRef;
      t.ref = ToRefInfo(a.ref);
    } else {
      t.value = ToObjectValue(a.value);
      t.resolved = true;
    }
    out.push_back(std::move(t));
  }
  return out;
}

TaskSpec TaskCallSpec(const TaskOptions& opts, std::vector<ArgData>& args, int default_retries) {
  TaskSpec spec;
  spec.function = opts.function;
  spec.name = opts.name.empty() ? opts.function : opts.name;
  SetResources("task '" + spec.name + "'", opts.resources, &spec.resources);
  int retries = opts.max_retries.value_or(default_retries);
  CheckRetries("task '" + spec.name + "'", "max_retries", retries);
  spec.max_retries = retries;
  spec.retry_exceptions = opts.retry_exceptions;
  spec.args = ToTaskArgs(args);
  return spec;
}

ActorSpec ActorCreationSpec(const ActorOptions& o, std::vector<ArgData>& args, int default_restarts,
                            int default_task_retries) {
  std::string what = "actor '" + (o.name.empty() ? o.factory : o.name) + "'";
  int restarts = o.max_restarts.value_or(default_restarts);
  int task_retries = o.max_task_retries.value_or(default_task_retries);
  CheckRetries(what, "max_restarts", restarts);
  CheckRetries(what, "max_task_retries", task_retries);
  if (o.max_concurrency < 1)
    throw Error("dray: " + what + ": max_concurrency " + std::to_string(o.max_concurrency) + " must be at least 1");
  ActorSpec as;
  as.name = o.name;
  as.class_name = o.class_name;
  as.max_restarts = restarts;
  as.max_task_retries = task_retries;
  as.max_concurrency = static_cast<uint32_t>(o.max_concurrency);
  TaskSpec& spec = as.creation;
  spec.function = o.factory;
  spec.name = o.name.empty() ? o.factory : o.name;
  SetResources(what, o.resources, &spec.resources);
  spec.actor_holds_resources = o.resources_set;
  spec.max_retries = 0;
  spec.args = ToTaskArgs(args);
  return as;
}

TaskSpec ActorCallSpec(const RefData& anchor, const TaskOptions& opts, std::vector<ArgData>& args) {
  TaskSpec spec;
  spec.function = opts.function;
  spec.name = opts.name.empty() ? opts.function : opts.name;
  spec.actor_kind = kActorCall;
  spec.actor = anchor.task;
  spec.max_retries = 0;
  spec.args = ToTaskArgs(args);
  return spec;
}

CmdGet GetCommand(uint64_t waiter, const std::vector<RefData>& refs, int64_t timeout_ns) {
  CmdGet g{waiter, {}, timeout_ns};
  for (const auto& r : refs) g.refs.push_back(ToRefInfo(r));
  return g;
}

CmdWait WaitCommand(uint64_t waiter, const std::vector<RefData>& refs, int num_returns, int64_t timeout_ns) {
  CmdWait c{waiter, {}, static_cast<uint32_t>(num_returns), timeout_ns};
  for (const auto& r : refs) c.refs.push_back(ToRefInfo(r));
  return c;
}

WaitOutcome GetOutcome(const EfCompleteWait& c) {
  WaitOutcome out;
  out.timed_out = c.status == kWaitTimeout;
  for (const auto& v : c.values) out.values.push_back(ToValueData(v));
  return out;
}

WaitOutcome WaitOutcomeOf(const EfCompleteWait& c) {
  WaitOutcome out;
  out.timed_out = c.status == kWaitTimeout;
  for (uint8_t b : c.ready) out.ready.push_back(b != 0);
  return out;
}

std::optional<std::pair<RefData, std::string>> FoundActor(const EfCompleteWait& c, const std::string& name) {
  if (c.values.empty()) return std::nullopt;
  ActorInfo info;
  std::string err;
  const Buf& b = c.values[0].data;
  if (!Unpack(b.data(), b.size(), &info, &err))
    throw Error("dray: GetActor(\"" + name + "\"): an unreadable reply: " + err);
  return std::make_pair(RefData{info.actor, 1, info.owner.node, info.owner.proc}, info.class_name);
}

ValueData InvokeTask(const TaskSpec& spec) {
  const Invoker* inv = FindFunction(spec.function);
  if (!inv)
    return MakeErrorValue("FunctionNotFoundError", spec.name, "",
                          "function '" + spec.function + "' is not registered in this executable (add it to DRAY_REMOTE)");
  std::vector<ValueData> args;
  args.reserve(spec.args.size());
  for (const auto& a : spec.args) args.push_back(ToValueData(a.value));
  try {
    return (*inv)(args);
  } catch (const ProcessEnded&) {
    throw;
  } catch (const TaskError& e) {
    // A failed dependency fetched inside the task: keep the original error.
    return MakeErrorValue("TaskError", e.task_name(), e.exception_type(), e.message());
  } catch (const std::exception& e) {
    return MakeErrorValue("TaskError", spec.name, Demangle(typeid(e).name()), e.what());
  } catch (...) {
    return MakeErrorValue("TaskError", spec.name, "unknown", "a non-standard exception");
  }
}

}  // namespace dray::internal
