// Actors in the simulator (docs/actors.md): scripted fault scenarios
// (issue 4's must-show list) and the API's edges. Simulated workers share
// the test's address space, so a global can count constructor runs (a
// sim-only convenience).
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/common/probe.h"

namespace {

int g_constructed = 0;

class Log {
 public:
  static Log* Create(std::string tag) {
    ++g_constructed;
    return new Log(std::move(tag));
  }
  explicit Log(std::string tag) : tag_(std::move(tag)) {}
  // Appends after `ms` of virtual time; returns the log so far.
  std::vector<int> Append(int x, int ms) {
    dray::SleepFor(std::chrono::milliseconds(ms));
    log_.push_back(x);
    return log_;
  }
  std::vector<int> Entries() const { return log_; }
  std::string Tag() const { return tag_; }
  void Throw() { throw std::runtime_error("boom"); }

 private:
  std::string tag_;
  std::vector<int> log_;
};

class Broken {
 public:
  static Broken* Create() { throw std::invalid_argument("no config"); }
  int Get() { return 1; }
};

// A task that makes its own actor and returns the handle (the task's worker
// owns the actor).
dray::ActorHandle<Log> MakeLog(std::string tag) { return dray::Actor(Log::Create).Remote(tag); }
// A task that makes a named actor and keeps running (its worker owns it).
int MakeNamedLogAndStay(std::string name) {
  auto handle = dray::Actor(Log::Create).SetName(name).Remote(name);  // held: the actor lives
  dray::SleepFor(std::chrono::seconds(60));
  return 0;
}
// A task that holds a handle for a long while.
int HoldHandle(dray::ActorHandle<Log> log) {
  dray::SleepFor(std::chrono::seconds(60));
  return static_cast<int>(dray::Get(log.Task(&Log::Entries).Remote())->size());
}
std::string SlowTag(std::string tag) {
  dray::SleepFor(std::chrono::seconds(1));
  return tag;
}
// A task that makes a named actor from a task's result and uses it.
int NamedFromTask(std::string name) {
  auto h = dray::Actor(Log::Create).SetName(name).Remote(dray::Task(SlowTag).Remote(name));
  return static_cast<int>(dray::Get(h.Task(&Log::Append).Remote(1, 0))->size());
}
// A task that calls an actor through a handle it was given.
int AppendVia(dray::ActorHandle<Log> log, int x) { return static_cast<int>(dray::Get(log.Task(&Log::Append).Remote(x, 0))->size()); }

DRAY_REMOTE(Log::Create, &Log::Append, &Log::Entries, &Log::Tag, &Log::Throw, Broken::Create, &Broken::Get, MakeLog,
            MakeNamedLogAndStay, AppendVia, HoldHandle, SlowTag, NamedFromTask);

struct Sim {
  explicit Sim(const std::string& spec) {
    g_constructed = 0;
    dray::Init(dray::Config{.sim = spec});
  }
  ~Sim() {
    if (dray::IsInitialized()) dray::Shutdown();
  }
};

void Let(int ms) { dray::SleepFor(std::chrono::milliseconds(ms)); }

uint64_t Probe(const char* name) { return dray::ProbeCounter(name); }

// The node hosting an actor crashes: the actor restarts elsewhere, its
// constructor runs again (its state starts over), and calls go on.
TEST(ActorFaults, NodeCrashRestartsTheActorElsewhere) {
  Sim sim("seed=1,nodes=2,cpus=2,head_cpus=0");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(1).Remote(std::string("a"));
  EXPECT_EQ(*dray::Get(log.Task(&Log::Append).Remote(1, 0)), std::vector<int>{1});
  EXPECT_EQ(g_constructed, 1);
  dray::sim::CrashNode(1);  // the only node with CPUs: the actor was there
  dray::sim::AddNode();
  // Node 1 is declared dead after 5 missed 3 s health checks; the actor
  // starts on the new node. (A call made before the caller hears of the
  // restart goes to the dead incarnation and, without max_task_retries,
  // fails with ActorUnavailableError: PendingCallsWithoutRetries below.)
  Let(20'000);
  auto after = *dray::Get(log.Task(&Log::Append).Remote(2, 0));
  EXPECT_EQ(after, std::vector<int>{2});  // a new instance: the old state is gone
  EXPECT_EQ(g_constructed, 2);
  EXPECT_EQ(*dray::Get(log.Task(&Log::Tag).Remote()), "a");  // same constructor arguments
  EXPECT_GT(dray::Now(), std::chrono::seconds(15));
}

// Restarts exhausted: ActorDiedError naming the cause.
TEST(ActorFaults, RestartsExhaustedGiveActorDiedErrorWithTheCause) {
  Sim sim("seed=2,nodes=2,cpus=2,head_cpus=0");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(0).Remote(std::string("b"));
  dray::Get(log.Task(&Log::Append).Remote(1, 0));
  dray::sim::CrashNode(1);
  dray::sim::AddNode();
  try {
    dray::Get(log.Task(&Log::Append).Remote(2, 0));
    FAIL() << "a call to a dead actor returned";
  } catch (const dray::ActorDiedError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("node 1"), std::string::npos) << what;
    EXPECT_NE(what.find("no restarts left of 0"), std::string::npos) << what;
  }
  EXPECT_EQ(g_constructed, 1);
}

// Kill with restart allowed brings the actor back (a fresh instance); Kill
// without restart ends it for good.
TEST(ActorFaults, KillWithRestartBringsTheActorBack) {
  Sim sim("seed=3,nodes=2,cpus=2");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(1).Remote(std::string("c"));
  dray::Get(log.Task(&Log::Append).Remote(1, 0));
  log.Kill(/*no_restart=*/false);
  Let(100);  // the restart is published
  EXPECT_EQ(*dray::Get(log.Task(&Log::Append).Remote(2, 0)), std::vector<int>{2});
  EXPECT_EQ(g_constructed, 2);
  dray::Kill(log);
  EXPECT_THROW(dray::Get(log.Task(&Log::Entries).Remote()), dray::ActorDiedError);
}

// A worker killed in the middle of a call: with max_task_retries the
// pending calls are sent to the next incarnation and run there in the
// caller's order; without, they fail with ActorUnavailableError.
TEST(ActorFaults, PendingCallsAreRetriedInOrder) {
  Sim sim("seed=4,nodes=1,cpus=2");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(std::string("d"));
  dray::Get(log.Task(&Log::Entries).Remote());
  std::vector<dray::ObjectRef<std::vector<int>>> calls;
  for (int i = 0; i < 5; ++i) calls.push_back(log.Task(&Log::Append).Remote(i, 100));
  Let(150);  // call 0 is done, call 1 is running
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("Log::Append"));
  auto results = dray::Get(calls);
  // Call 0 ran on the first incarnation; 1..4 ran again, in order, on the next.
  EXPECT_EQ(*results[0], std::vector<int>{0});
  EXPECT_EQ(*results[4], (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(g_constructed, 2);
}

TEST(ActorFaults, PendingCallsWithoutRetriesFailAsUnavailable) {
  Sim sim("seed=5,nodes=1,cpus=2");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(-1).Remote(std::string("e"));
  dray::Get(log.Task(&Log::Entries).Remote());
  std::vector<dray::ObjectRef<std::vector<int>>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(log.Task(&Log::Append).Remote(i, 100));
  Let(150);
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("Log::Append"));
  EXPECT_EQ(*dray::Get(calls[0]), std::vector<int>{0});
  EXPECT_THROW(dray::Get(calls[1]), dray::ActorUnavailableError);
  EXPECT_THROW(dray::Get(calls[2]), dray::ActorUnavailableError);
  // The actor itself restarted: new calls work.
  EXPECT_EQ(*dray::Get(log.Task(&Log::Append).Remote(9, 0)), std::vector<int>{9});
}

// The node hosting an actor is cut off: its lease runs out and it stops the
// actor before the control service declares it dead and starts the next
// incarnation; after the heal the old node fences itself. The simulator's
// invariants check that the old incarnation runs no call once the new one
// exists.
TEST(ActorFaults, APartitionedIncarnationStopsBeforeTheNextStarts) {
  Sim sim("seed=6,nodes=2,cpus=2,head_cpus=0");
  uint64_t expired = Probe("node.lease_expired_actors_stopped");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(std::string("f"));
  dray::Get(log.Task(&Log::Append).Remote(1, 0));
  dray::sim::Partition(1);
  dray::sim::AddNode();
  std::vector<dray::ObjectRef<std::vector<int>>> calls;
  for (int i = 2; i < 6; ++i) calls.push_back(log.Task(&Log::Append).Remote(i, 500));
  auto last = *dray::Get(calls.back());
  EXPECT_EQ(last.back(), 5);
  EXPECT_EQ(Probe("node.lease_expired_actors_stopped"), expired + 1);
  dray::sim::Heal(1);
  Let(10'000);  // the old node hears it was declared dead and fences itself
  EXPECT_EQ(*dray::Get(log.Task(&Log::Append).Remote(7, 0)), (std::vector<int>{2, 3, 4, 5, 7}));
}

// An actor whose constructor throws is dead, with the exception as its cause.
TEST(ActorApi, AConstructorThatThrowsKillsTheActor) {
  Sim sim("seed=7,nodes=1,cpus=2");
  auto b = dray::Actor(Broken::Create).SetMaxRestarts(3).Remote();
  try {
    dray::Get(b.Task(&Broken::Get).Remote());
    FAIL();
  } catch (const dray::ActorDiedError& e) {
    EXPECT_NE(std::string(e.what()).find("no config"), std::string::npos) << e.what();
  }
}

TEST(ActorApi, NamesAreUniqueAndFound) {
  Sim sim("seed=8,nodes=2,cpus=2");
  auto a = dray::Actor(Log::Create).SetName("the-log").Remote(std::string("x"));
  EXPECT_THROW(dray::Actor(Log::Create).SetName("the-log").Remote(std::string("y")), dray::Error);
  auto found = dray::GetActor<Log>("the-log");
  ASSERT_TRUE(found.has_value());
  dray::Get(found->Task(&Log::Append).Remote(1, 0));
  EXPECT_EQ(*dray::Get(a.Task(&Log::Entries).Remote()), std::vector<int>{1});  // one actor
  EXPECT_FALSE(dray::GetActor<Log>("no-such").has_value());
  EXPECT_THROW(dray::GetActor<Broken>("the-log"), dray::Error);  // another class
  dray::Kill(a);
  Let(10);
  EXPECT_FALSE(dray::GetActor<Log>("the-log").has_value());  // a dead actor's name is free
  auto again = dray::Actor(Log::Create).SetName("the-log").Remote(std::string("z"));
  EXPECT_EQ(*dray::Get(again.Task(&Log::Tag).Remote()), "z");
}

// Handles travel: as arguments to tasks, returned from a task (whose worker
// then owns the actor). The last handle gone, the actor goes, and nothing is
// left behind.
TEST(ActorApi, HandlesTravelAndTheLastOneStopsTheActor) {
  Sim sim("seed=9,nodes=3,cpus=2");
  {
    auto log = dray::Actor(Log::Create).Remote(std::string("g"));
    std::vector<dray::ObjectRef<int>> sizes;
    for (int i = 0; i < 4; ++i) sizes.push_back(dray::Task(AppendVia).Remote(log, i));
    dray::Get(sizes);
    EXPECT_EQ(dray::Get(log.Task(&Log::Entries).Remote())->size(), 4u);
    auto made = *dray::Get(dray::Task(MakeLog).Remote(std::string("h")));
    EXPECT_EQ(*dray::Get(made.Task(&Log::Tag).Remote()), "h");
  }
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
}

// An actor's owner dies (the worker that made it crashes): the actor dies.
TEST(ActorApi, AnActorDiesWithItsOwner) {
  Sim sim("seed=10,nodes=2,cpus=2");
  auto running = dray::Task(MakeNamedLogAndStay).Remote(std::string("owned"));
  Let(1000);
  auto made = dray::GetActor<Log>("owned");
  ASSERT_TRUE(made.has_value());
  dray::Get(made->Task(&Log::Append).Remote(1, 0));
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("MakeNamedLogAndStay"));  // the actor's owner
  Let(10);
  try {
    dray::Get(made->Task(&Log::Append).Remote(2, 0));
    FAIL();
  } catch (const dray::ActorDiedError& e) {
    EXPECT_NE(std::string(e.what()).find("owner"), std::string::npos) << e.what();
  }
}

// A process that borrowed a handle (or any ref) dies: its registration with
// the owner goes, so the actor stops once the other handles are gone (the
// property test found the actor and its worker left behind).
TEST(ActorApi, AHandleHeldByACrashedWorkerIsReleased) {
  Sim sim("seed=13,nodes=1,cpus=2,task_retries=0");
  uint64_t dropped = Probe("owner.borrower_died");
  {
    auto log = dray::Actor(Log::Create).Remote(std::string("l"));
    auto held = dray::Task(HoldHandle).Remote(log);
    Let(100);
    ASSERT_TRUE(dray::sim::CrashWorkerRunning("HoldHandle"));
    EXPECT_THROW(dray::Get(held), dray::WorkerCrashedError);
  }
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
  EXPECT_GT(Probe("owner.borrower_died"), dropped);
}

// The constructor's argument is a task's result: the actor is registered
// once it is ready. Its handle travels to tasks before that (they wait for
// it), and Kill with restart before it was created makes one incarnation
// at a time.
TEST(ActorApi, ConstructorArgumentsFromTasksAndEarlyHandles) {
  Sim sim("seed=14,nodes=2,cpus=2");
  auto log = dray::Actor(Log::Create).SetMaxRestarts(1).Remote(dray::Task(SlowTag).Remote(std::string("m")));
  auto via = dray::Task(AppendVia).Remote(log, 5);  // reaches a worker before the actor is registered
  EXPECT_EQ(*dray::Get(via), 1);
  EXPECT_EQ(*dray::Get(log.Task(&Log::Tag).Remote()), "m");
  auto again = dray::Actor(Log::Create).SetMaxRestarts(1).Remote(dray::Task(SlowTag).Remote(std::string("n")));
  again.Kill(/*no_restart=*/false);  // before it exists
  Let(3000);
  EXPECT_EQ(*dray::Get(again.Task(&Log::Append).Remote(1, 0)), std::vector<int>{1});
}

// Every handle dropped before the constructor's arguments were ready: the
// actor is never made, and nothing is left behind.
TEST(ActorApi, AnActorDroppedBeforeItsArgumentsAreReadyIsNeverMade) {
  Sim sim("seed=15,nodes=1,cpus=2");
  dray::Actor(Log::Create).Remote(dray::Task(SlowTag).Remote(std::string("o")));  // dropped at once
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
  EXPECT_EQ(g_constructed, 0);
}

// A named creation inside a task waits for the control service without
// holding its CPU: on a one-CPU node, the task its argument comes from runs.
TEST(ActorApi, ANamedCreationInATaskGivesItsCpuBack) {
  Sim sim("seed=16,nodes=1,cpus=1");
  EXPECT_EQ(*dray::Get(dray::Task(NamedFromTask).Remote(std::string("p"))), 1);
}

TEST(ActorApi, MethodErrorsAreTaskErrorsAndTheActorLives) {
  Sim sim("seed=11,nodes=1,cpus=2");
  auto log = dray::Actor(Log::Create).Remote(std::string("j"));
  EXPECT_THROW(dray::Get(log.Task(&Log::Throw).Remote()), dray::TaskError);
  EXPECT_EQ(*dray::Get(log.Task(&Log::Append).Remote(1, 0)), std::vector<int>{1});
  EXPECT_THROW(dray::Actor(Log::Create).SetMaxRestarts(-2).Remote(std::string("k")), dray::Error);
  EXPECT_THROW(dray::Actor(Log::Create).SetMaxConcurrency(0).Remote(std::string("k")), dray::Error);
}

// Same seed, same trace, with actors restarting under faults.
TEST(ActorDeterminism, SameSeedSameTraceUnderFaults) {
  auto run = [] {
    dray::Init(dray::Config{.sim = "seed=12,nodes=3,cpus=2,faults=swarm,faults_until_ms=300,task_retries=-1"});
    auto log = dray::Actor(Log::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(std::string("d"));
    std::vector<dray::ObjectRef<std::vector<int>>> calls;
    for (int i = 0; i < 30; ++i) calls.push_back(log.Task(&Log::Append).Remote(i, 20));
    dray::Get(calls);
    dray::Shutdown();
    return dray::sim::LastStats();
  };
  auto a = run();
  auto b = run();
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_GT(a.crashes, 0u);
}

}  // namespace
