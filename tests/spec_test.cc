// The simulation spec (DESIGN §6): documented keys parse; anything else stops
// with an error naming the key.
#include "sim/spec.h"

#include <gtest/gtest.h>

#include "dray/errors.h"

namespace dray::sim {
namespace {

std::string ErrorOf(const std::string& text) {
  try {
    ParseSimSpec(text);
  } catch (const dray::Error& e) {
    return e.what();
  }
  return "";
}

TEST(SimSpec, DefaultsForAnEmptySpec) {
  SimSpec s = ParseSimSpec("");
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.nodes, 1u);
  EXPECT_EQ(s.faults, "none");
}

TEST(SimSpec, AcceptsEveryDocumentedKey) {
  SimSpec s = ParseSimSpec(
      "seed=42,nodes=5,cpus=2.5,gpus=1,store_mb=64,faults=none,trace=/tmp/t.db,timeline=/tmp/t.json,"
      "latency_us=250,worker_start_us=7,chunk_kb=3,stack_kb=256,invariants=0");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.nodes, 5u);
  EXPECT_DOUBLE_EQ(s.cpus, 2.5);
  EXPECT_DOUBLE_EQ(s.gpus, 1);
  EXPECT_EQ(s.store_mb, 64u);
  EXPECT_EQ(s.faults, "none");
  EXPECT_EQ(s.trace, "/tmp/t.db");
  EXPECT_EQ(s.timeline, "/tmp/t.json");
  EXPECT_EQ(s.latency_us, 250);
  EXPECT_EQ(s.worker_start_us, 7);
  EXPECT_EQ(s.chunk_kb, 3u);
  EXPECT_EQ(s.stack_kb, 256u);
  EXPECT_FALSE(s.check_invariants);
}

TEST(SimSpec, EmptyItemsAreSkipped) {
  SimSpec s = ParseSimSpec(",seed=3,,nodes=2,");
  EXPECT_EQ(s.seed, 3u);
  EXPECT_EQ(s.nodes, 2u);
}

TEST(SimSpec, SeedTakesTheFullUint64Range) {
  EXPECT_EQ(ParseSimSpec("seed=18446744073709551615").seed, 18446744073709551615ULL);
}

TEST(SimSpec, UnknownKeyIsNamed) {
  std::string e = ErrorOf("seed=1,nodez=3");
  EXPECT_NE(e.find("unknown key 'nodez'"), std::string::npos) << e;
}

TEST(SimSpec, BadNumbersNameTheKey) {
  for (const char* text : {"seed=abc", "seed=", "seed=-1", "seed=1x", "nodes=2.5", "cpus=lots", "cpus=-1",
                           "latency_us=1e3", "chunk_kb=x"}) {
    std::string e = ErrorOf(text);
    std::string key = std::string(text).substr(0, std::string(text).find('='));
    EXPECT_NE(e.find("key '" + key + "'"), std::string::npos) << text << " -> " << e;
  }
}

TEST(SimSpec, StackSizeIsBounded) {
  for (const char* text : {"stack_kb=63", "stack_kb=0", "stack_kb=1048577"}) {
    std::string e = ErrorOf(text);
    EXPECT_NE(e.find("stack_kb must be between 64 and 1048576"), std::string::npos) << text << " -> " << e;
  }
  EXPECT_EQ(ParseSimSpec("stack_kb=64").stack_kb, 64u);
}

TEST(SimSpec, MissingEqualsIsRejected) {
  std::string e = ErrorOf("seed=1,nodes");
  EXPECT_NE(e.find("'nodes' is not key=value"), std::string::npos) << e;
}

TEST(SimSpec, OnlyKnownFaultModesAreAccepted) {
  for (const char* f : {"worker_crashes", "workers+partition", "", "partition+", "loss++reorder"}) {
    std::string e = ErrorOf(std::string("faults=") + f);
    EXPECT_NE(e.find("unknown fault kind"), std::string::npos) << f << " -> " << e;
    EXPECT_NE(e.find("known: none, workers, swarm, or kinds joined by '+': worker_crash, node_crash"),
              std::string::npos)
        << f << " -> " << e;
  }
  EXPECT_EQ(ParseSimSpec("faults=swarm").faults, "swarm");
  EXPECT_TRUE(ParseSimSpec("faults=swarm").swarm);
  EXPECT_EQ(ParseSimSpec("faults=none").faults, "none");
  EXPECT_EQ(ParseSimSpec("faults=none").fault_kinds, 0u);
  SimSpec s = ParseSimSpec("faults=workers,fault_every_us=500,faults_until_ms=40");
  EXPECT_EQ(s.faults, "workers");
  EXPECT_EQ(s.fault_kinds, kFaultWorkerCrash);
  EXPECT_EQ(s.fault_every_us, 500);
  EXPECT_EQ(s.faults_until_ms, 40);
  EXPECT_NE(ErrorOf("fault_every_us=0").find("fault_every_us must be at least 1"), std::string::npos);
  EXPECT_EQ(ParseSimSpec("task_retries=-1").task_retries, -1);
  EXPECT_EQ(ParseSimSpec("").task_retries, 3);
  EXPECT_NE(ErrorOf("task_retries=-2").find("task_retries must be -1"), std::string::npos);
  EXPECT_EQ(ParseSimSpec("actor_restarts=-1,actor_task_retries=2").actor_restarts, -1);
  EXPECT_EQ(ParseSimSpec("actor_restarts=-1,actor_task_retries=2").actor_task_retries, 2);
  EXPECT_EQ(ParseSimSpec("").actor_restarts, 0);
  EXPECT_NE(ErrorOf("actor_restarts=-3").find("actor_restarts must be -1"), std::string::npos);
  EXPECT_NE(ErrorOf("actor_task_retries=-3").find("actor_task_retries must be -1"), std::string::npos);
}

// Every kind of DESIGN §6's `faults=kind+kind` form, and its own keys.
TEST(SimSpec, FaultKindsJoinedByPlus) {
  SimSpec s = ParseSimSpec("faults=worker_crash+node_crash+partition");
  EXPECT_EQ(s.fault_kinds, kFaultWorkerCrash | kFaultNodeCrash | kFaultPartition);
  EXPECT_FALSE(s.swarm);
  std::string all;
  for (int i = 0; i < kNumFaultKinds; ++i) all += (i ? "+" : "") + std::string(kFaultKindNames[i]);
  s = ParseSimSpec("faults=" + all);
  EXPECT_EQ(s.fault_kinds, (1u << kNumFaultKinds) - 1);
  EXPECT_EQ(FaultKindsStr(s.fault_kinds), all);
  EXPECT_EQ(FaultKindsStr(0), "none");
  s = ParseSimSpec("faults=loss,loss_permille=7,dup_permille=8,reorder_permille=9,rto_us=10,net_fault_every_us=11");
  EXPECT_EQ(s.fault_kinds, kFaultLoss);
  EXPECT_EQ(s.loss_permille, 7u);
  EXPECT_EQ(s.dup_permille, 8u);
  EXPECT_EQ(s.reorder_permille, 9u);
  EXPECT_EQ(s.rto_us, 10);
  EXPECT_EQ(s.net_fault_every_us, 11);
  EXPECT_NE(ErrorOf("loss_permille=901").find("loss_permille must be at most 900"), std::string::npos);
  EXPECT_NE(ErrorOf("rto_us=0").find("rto_us must be at least 1"), std::string::npos);
}

TEST(SimSpec, NodeCountIsBounded) {
  EXPECT_NE(ErrorOf("nodes=0").find("nodes"), std::string::npos);
  EXPECT_NE(ErrorOf("nodes=1001").find("nodes"), std::string::npos);
  EXPECT_EQ(ParseSimSpec("nodes=1000").nodes, 1000u);
}

TEST(SimSpec, FormatShowsTheRunShape) {
  SimSpec s = ParseSimSpec("seed=9,nodes=3,cpus=2");
  EXPECT_EQ(FormatSimSpec(s), "seed=9,nodes=3,cpus=2,faults=none");
}

}  // namespace
}  // namespace dray::sim
