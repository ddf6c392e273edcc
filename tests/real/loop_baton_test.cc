// The worker's loop baton (real/loop_baton.h) stepped by hand: an
// io_context run by a loop thread, handlers posted from outside, and the
// user thread taking, using and losing the baton.
#include "real/loop_baton.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace dray::real {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A loop thread running the baton's loop over its own io_context.
struct Loop {
  explicit Loop(std::chrono::nanoseconds takeover) : baton(takeover) {
    thread = std::thread([this] {
      loop_id = std::this_thread::get_id();
      baton.RunLoopThread(io);
    });
  }
  ~Loop() {
    // From the user thread (the test's): hand the baton back, as user code
    // about to block would, so the loop thread can see the end of the work.
    if (baton.holder() == LoopBaton::kUserLoop) {
      baton.BeginUserCode();
      baton.Release();
    }
    work.reset();
    if (thread.joinable()) thread.join();
  }
  // Posts a handler and returns the flag it sets to the id of the thread that ran it.
  std::shared_ptr<std::atomic<std::thread::id>> PostProbe() {
    auto ran = std::make_shared<std::atomic<std::thread::id>>();
    asio::post(io, [ran] { ran->store(std::this_thread::get_id()); });
    return ran;
  }
  static bool WaitRan(const std::atomic<std::thread::id>& ran) {
    for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
      if (ran.load() != std::thread::id{}) return true;
      std::this_thread::sleep_for(100us);
    }
    return false;
  }
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  LoopBaton baton;
  std::thread thread;
  std::thread::id loop_id;
};

TEST(LoopBaton, TheLoopThreadRunsHandlersUntilTheUserThreadTakesTheBaton) {
  Loop l(10s);
  auto first = l.PostProbe();
  ASSERT_TRUE(Loop::WaitRan(*first));
  EXPECT_EQ(first->load(), l.loop_id);
  EXPECT_EQ(l.baton.holder(), LoopBaton::kLoop);

  // The user thread takes the baton and runs handlers itself until ready.
  std::atomic<int> ready{0};
  std::thread poster([&] {
    std::this_thread::sleep_for(5ms);
    asio::post(l.io, [&] { ready = 1; });
  });
  ASSERT_TRUE(l.baton.RunUntil([&] { return ready.load() == 1; }));
  poster.join();
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserLoop);
  // While it holds the baton (between tasks), Poll runs what is posted, here.
  auto polled = l.PostProbe();
  l.baton.Poll();
  EXPECT_EQ(polled->load(), std::this_thread::get_id());
}

TEST(LoopBaton, UserCodeThatBlocksHandsTheBatonToTheLoopThread) {
  Loop l(10s);  // no takeover in this test
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));
  l.baton.BeginUserCode();
  auto during = l.PostProbe();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(during->load(), std::thread::id{}) << "nobody runs the loop while user code holds the baton";
  l.baton.Release();  // about to block on the loop's results
  ASSERT_TRUE(Loop::WaitRan(*during));
  EXPECT_EQ(during->load(), l.loop_id);
  EXPECT_FALSE(l.baton.EndUserCode());  // the loop thread has it now
  EXPECT_EQ(l.baton.holder(), LoopBaton::kLoop);
  // The next RunUntil takes it back.
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserLoop);
  EXPECT_EQ(l.baton.takeovers(), 0u);
}

TEST(LoopBaton, UserCodeWaitingForTheLoopRunsItItself) {
  Loop l(10s);
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));
  l.baton.BeginUserCode();
  // The answer comes from outside (a frame, here a post from another thread):
  // the waiting user thread runs the handler that brings it.
  std::atomic<bool> answered{false};
  std::atomic<std::thread::id> ran_on{};
  std::thread peer([&] {
    std::this_thread::sleep_for(5ms);
    asio::post(l.io, [&] {
      ran_on = std::this_thread::get_id();
      answered = true;
    });
  });
  EXPECT_TRUE(l.baton.RunWhileWaiting([&] { return answered.load(); }));
  peer.join();
  EXPECT_EQ(ran_on.load(), std::this_thread::get_id());
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserCode);
  // With a deadline and no answer, it gives up at the deadline.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(l.baton.RunWhileWaiting([] { return false; }, t0 + 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserCode);
  // Once the loop thread has it, the wait is the caller's (nothing run here).
  l.baton.Release();
  EXPECT_FALSE(l.baton.RunWhileWaiting([] { return false; }));
  EXPECT_FALSE(l.baton.EndUserCode());
}

TEST(LoopBaton, ShortUserCodeKeepsTheBatonAndLongUserCodeLosesItToTheLoopThread) {
  Loop l(5ms);
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));
  // Short: ends before the takeover time; the user thread keeps the baton.
  l.baton.BeginUserCode();
  EXPECT_TRUE(l.baton.EndUserCode());
  EXPECT_EQ(l.baton.takeovers(), 0u);
  // Long (it computes without calling dray): the loop thread takes over and
  // serves what was posted meanwhile.
  l.baton.BeginUserCode();
  auto during = l.PostProbe();
  auto until = std::chrono::steady_clock::now() + 10s;
  while (during->load() == std::thread::id{} && std::chrono::steady_clock::now() < until) {
  }
  EXPECT_EQ(during->load(), l.loop_id);
  EXPECT_EQ(l.baton.takeovers(), 1u);
  EXPECT_FALSE(l.baton.EndUserCode());
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserLoop);
}

TEST(LoopBaton, ALoopOutOfWorkEndsBothSides) {
  auto l = std::make_unique<Loop>(10s);
  std::atomic<bool> took{false};
  std::thread user([&] {
    // The user thread takes the baton, then waits for a task that never
    // comes; the loop runs out of work instead.
    took = l->baton.RunUntil([] { return true; });
    EXPECT_FALSE(l->baton.RunUntil([] { return false; }));
  });
  while (!took) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  l->work.reset();
  asio::post(l->io, [] {});  // wakes the waiting run_one
  user.join();
  // The loop thread, which waited for the baton, ends by itself.
  l->thread.join();
  EXPECT_EQ(l->baton.holder(), LoopBaton::kLoop);
  EXPECT_FALSE(l->baton.RunUntil([] { return true; }));  // (another thread, and stopped)
}

TEST(LoopBaton, OnlyTheUserThreadCanTakeOrUseTheBaton) {
  Loop l(10s);
  ASSERT_TRUE(l.baton.RunUntil([] { return true; }));  // this thread is the user thread
  l.baton.BeginUserCode();
  std::thread other([&] {
    // A thread of the user's own (a task's helper thread, say) cannot run the
    // loop: its waits fall back to the caller's condition variable.
    EXPECT_FALSE(l.baton.RunUntil([] { return true; }));
    EXPECT_FALSE(l.baton.RunWhileWaiting([] { return true; }));
    EXPECT_FALSE(l.baton.EndUserCode());
  });
  other.join();
  EXPECT_EQ(l.baton.holder(), LoopBaton::kUserCode);
  EXPECT_TRUE(l.baton.EndUserCode());
}

}  // namespace
}  // namespace dray::real
