// Scenario (5) of issue 3: the control service crashes mid-run, restarts from
// the tables it persisted in SQLite (jobs, nodes, dead nodes, actors), and
// the run completes; nodes keep running tasks while it is down.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/trace.h"

namespace {

int Slow(int x) {
  dray::SleepFor(std::chrono::milliseconds(500));
  return x * 3;
}
class Tally {
 public:
  static Tally* Create() { return new Tally(); }
  int Add(int x) { return total_ += x; }

 private:
  int total_ = 0;
};
DRAY_REMOTE(Slow, Tally::Create, &Tally::Add);

struct Sim {
  explicit Sim(const std::string& spec) { dray::Init(dray::Config{.sim = spec}); }
  ~Sim() {
    if (dray::IsInitialized()) dray::Shutdown();
  }
};

void Let(int ms) { dray::SleepFor(std::chrono::milliseconds(ms)); }

TEST(ControlServiceRestart, TheRunCompletesAndTasksRunWhileItIsDown) {
  Sim sim("seed=1,nodes=3,cpus=2");
  auto tally = dray::Actor(Tally::Create).SetName("tally").Remote();
  EXPECT_EQ(*dray::Get(tally.Task(&Tally::Add).Remote(1)), 1);
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 12; ++i) refs.push_back(dray::Task(Slow).Remote(i));
  dray::sim::RestartControlService(std::chrono::seconds(2));
  Let(1000);
  // Down: nodes run their tasks, and calls to a live actor go on (they do
  // not pass through the control service).
  auto during = dray::Wait(refs, 12, 0);
  EXPECT_GT(during.ready.size(), 0u);
  EXPECT_EQ(*dray::Get(tally.Task(&Tally::Add).Remote(2)), 3);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(*dray::Get(refs[i]), i * 3);
  // Back: the actor table came back from SQLite (the name is still there).
  Let(2000);
  auto found = dray::GetActor<Tally>("tally");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*dray::Get(found->Task(&Tally::Add).Remote(4)), 7);  // the same incarnation: state kept
  EXPECT_EQ(dray::sim::CurrentStats().gcs_restarts, 1u);
}

// What happens while it is down is handled once it is back: a node crash
// is detected by the restarted control service's health checks, and an
// actor whose worker died meanwhile restarts.
TEST(ControlServiceRestart, FailuresDuringTheOutageAreHandledAfterIt) {
  Sim sim("seed=2,nodes=3,cpus=2,head_cpus=0");
  auto tally = dray::Actor(Tally::Create).SetMaxRestarts(1).SetMaxTaskRetries(-1).Remote();
  EXPECT_EQ(*dray::Get(tally.Task(&Tally::Add).Remote(5)), 5);
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 8; ++i) refs.push_back(dray::Task(Slow).Remote(i));
  dray::sim::RestartControlService(std::chrono::seconds(3));
  Let(100);
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("Tally::Add"));  // the actor's worker (idle, it ran Add last)
  dray::sim::CrashNode(2);
  dray::sim::AddNode();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(*dray::Get(refs[i]), i * 3);
  // A new incarnation (its state starts over) once the control service is
  // back and hears of the death it was sent while down.
  EXPECT_EQ(*dray::Get(tally.Task(&Tally::Add).Remote(1)), 1);
}

TEST(ControlServiceRestart, SameSeedSameTraceAndTheTraceReplays) {
  std::string path = "/tmp/dray-gcs-restart-" + std::to_string(getpid()) + ".db";
  auto run = [&](bool trace) {
    dray::Init(dray::Config{.sim = std::string("seed=3,nodes=2,cpus=2") + (trace ? ",trace=" + path : "")});
    auto tally = dray::Actor(Tally::Create).Remote();
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 6; ++i) refs.push_back(dray::Task(Slow).Remote(i));
    dray::sim::RestartControlService(std::chrono::seconds(1));
    for (auto& r : refs) dray::Get(r);
    dray::Get(tally.Task(&Tally::Add).Remote(1));
    dray::Shutdown();
    return dray::sim::LastStats();
  };
  auto a = run(false);
  auto b = run(false);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.gcs_restarts, 1u);
  run(true);
  dray::sim::ReplayResult r = dray::sim::Replay(path);
  EXPECT_TRUE(r.ok) << r.error;
  std::remove(path.c_str());
}

}  // namespace
