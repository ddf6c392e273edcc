// The real runtime end to end (multi-process): the seed examples run on the
// embedded single-node cluster (no DRAY_SIM), Shutdown leaves nothing behind,
// and a worker killed with SIGKILL mid-task costs a retry, not the result.
// Timings are not asserted: these machines are shared and noisy.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "run_command.h"

#ifndef DRAY_EXAMPLES_DIR
#error "compile with -DDRAY_EXAMPLES_DIR and -DDRAY_RUNTIME_APP"
#endif

namespace {

using dray::test::RunResult;

// Runs `command` with DRAY_SIM and DRAY_ADDRESS unset (so Init starts the
// embedded cluster).
RunResult RunProgram(const std::string& command) { return dray::test::RunCommand(command, {"DRAY_SIM", "DRAY_ADDRESS"}); }

void ExpectExample(const std::string& name, const std::vector<std::string>& expected) {
  RunResult r = RunProgram(std::string(DRAY_EXAMPLES_DIR) + "/" + name);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\nok\n"), std::string::npos) << r.output;
  for (const auto& e : expected) EXPECT_NE(r.output.find(e), std::string::npos) << "missing '" << e << "' in\n" << r.output;
}

TEST(RealExamples, FourTasks) { ExpectExample("four_tasks", {"results = [0, 1, 2, 3]"}); }
TEST(RealExamples, BasicAdd) { ExpectExample("basic_add", {}); }
TEST(RealExamples, MapReduce) { ExpectExample("map_reduce", {}); }
TEST(RealExamples, PutGet) { ExpectExample("put_get", {}); }
TEST(RealExamples, TaskError) { ExpectExample("task_error", {}); }
TEST(RealExamples, MatrixDag) { ExpectExample("matrix_dag", {}); }
TEST(RealExamples, ActorCounter) { ExpectExample("actor_counter", {}); }
TEST(RealExamples, FourCounters) { ExpectExample("four_counters", {}); }

TEST(RealRuntime, LargeObjectsAreReadInPlaceFromTheSharedMemoryStore) {
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " store");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("store ok"), std::string::npos) << r.output;
}

// Submits are one-way and a worker's loop moves between two threads
// (real/loop_baton.h): thousands of Submits with Puts, tasks computing with
// unstepped children, actor calls queued behind slow ones.
TEST(RealRuntime, OneWaySubmitsAndComputingTasksGetTheRightValues) {
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " oneway");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("oneway ok"), std::string::npos) << r.output;
}

// A worker's large return and put are written once, into the store, in
// ranges its hub grants: the hub takes them over without a copy.
TEST(RealRuntime, AWorkersLargeValuesAreWrittenIntoTheStoreOnce) {
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " worker-store");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("worker store ok"), std::string::npos) << r.output;
}

// A worker killed (SIGKILL) while it holds a grant and a handed-over range:
// both come back; the retried task succeeds.
TEST(RealRuntime, AWorkerKilledHoldingStoreGrantsLeaksNothing) {
  std::string mark = testing::TempDir() + "dray_grant_kill_mark_" + std::to_string(::getpid());
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " grant-kill " + mark);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing leaked"), std::string::npos) << r.output;
}

TEST(RealRuntime, ShutdownLeavesNothingBehind) {
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " cleanup");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("clean"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("NOT CLEAN"), std::string::npos) << r.output;
}

// A 1 MiB object store: 300 KiB values are spilled to <cluster dir>/spill,
// restored for Gets and task arguments, and the directory is gone after
// Shutdown.
TEST(RealRuntime, ASmallStoreSpillsAndRestoresAndCleansUp) {
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " spill");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("good = 25 of 25"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("clean"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("NOT CLEAN"), std::string::npos) << r.output;
}

TEST(RealRuntime, AnActorsWorkerKilledMidCallRestartsTheActorAndRetriesTheCall) {
  std::string mark = testing::TempDir() + "dray_actor_kill9_mark_" + std::to_string(::getpid());
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " actor-kill9 " + mark);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("actor restarted"), std::string::npos) << r.output;
}

TEST(RealRuntime, WorkerKilledMidTaskIsRetried) {
  std::string mark = testing::TempDir() + "dray_kill9_mark_" + std::to_string(::getpid());
  RunResult r = RunProgram(std::string(DRAY_RUNTIME_APP) + " kill9 " + mark);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("result = 49"), std::string::npos) << r.output;
}

}  // namespace
