// What every backend does with a user's call before and after the Owner sees
// it: conversions between the public runtime types (dray/internal/runtime.h)
// and the protocol's, the checked specs of task calls, actor creations and
// actor calls, and running a task's function in this process. Shared by the
// simulator's and the real backend's ProcessRuntime. No I/O.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/step.h"
#include "dray/internal/runtime.h"

namespace dray::internal {

RefInfo ToRefInfo(const RefData& r);
RefData ToRefData(const RefInfo& r);
ObjectValue ToObjectValue(const ValueData& v);
ValueData ToValueData(const ObjectValue& o);
std::vector<TaskArg> ToTaskArgs(std::vector<ArgData>& args);

// The specs of user calls; each throws dray::Error naming the bad option.
// `default_*` apply where the caller did not set the option.
TaskSpec TaskCallSpec(const TaskOptions& opts, std::vector<ArgData>& args, int default_retries);
ActorSpec ActorCreationSpec(const ActorOptions& o, std::vector<ArgData>& args, int default_restarts,
                            int default_task_retries);
TaskSpec ActorCallSpec(const RefData& anchor, const TaskOptions& opts, std::vector<ArgData>& args);
// Get and Wait: the command for `waiter`, and what its completion means.
CmdGet GetCommand(uint64_t waiter, const std::vector<RefData>& refs, int64_t timeout_ns);
CmdWait WaitCommand(uint64_t waiter, const std::vector<RefData>& refs, int num_returns, int64_t timeout_ns);
WaitOutcome GetOutcome(const EfCompleteWait& c);
WaitOutcome WaitOutcomeOf(const EfCompleteWait& c);
// The named actor in a GetActor's completion: its handle object and class.
std::optional<std::pair<RefData, std::string>> FoundActor(const EfCompleteWait& c, const std::string& name);

// Thrown to unwind a process's user code when the process ends (the
// simulator's killed workers): InvokeTask lets it through.
struct ProcessEnded {};

// Runs the task's registered function in this process: its value, or its
// error as a value (the user's exception becomes a TaskError; a missing
// function a FunctionNotFoundError).
ValueData InvokeTask(const TaskSpec& spec);

}  // namespace dray::internal
