// The real backend's spill storage (real/spill.h): files written, read back
// and removed; the disk thread that runs them in order, off the caller's thread.
#include "real/spill.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace dray::real {
namespace {

std::string TempDirFor(const char* what) {
  return testing::TempDir() + "dray_spill_" + what + "_" + std::to_string(::getpid());
}

TEST(DiskThread, RunsJobsInTheOrderPostedOffTheCallersThread) {
  DiskThread disk;
  std::vector<int> order;
  std::atomic<bool> elsewhere{true};
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i)
    disk.Post([&, i] {
      if (std::this_thread::get_id() == caller) elsewhere = false;
      order.push_back(i);
    });
  std::promise<void> done;
  disk.Post([&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(elsewhere);
}

TEST(DiskThread, StopDropsWhatHasNotBegunAndLaterPostsAreDropped) {
  DiskThread disk;
  std::promise<void> started;
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  disk.Post([&] {
    started.set_value();
    gate.wait();
    ++ran;
  });
  for (int i = 0; i < 10; ++i) disk.Post([&] { ++ran; });
  started.get_future().wait();
  std::thread stopper([&] { disk.Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();  // the running job ends; the ten queued ones never run
  stopper.join();
  EXPECT_EQ(ran.load(), 1);
  disk.Post([&] { ++ran; });
  EXPECT_EQ(ran.load(), 1);
}

TEST(SpillDir, WritesReadsBackDeletesAndRemovesItsDirectory) {
  std::string dir = TempDirFor("files");
  {
    SpillDir s(dir);
    s.Write(7, Buf(std::string(1000, 'x')));
    EXPECT_EQ(s.files(), 1u);
    Buf back;
    std::string err;
    ASSERT_TRUE(s.Read(7, 1000, &back, &err)) << err;
    EXPECT_EQ(back.view(), std::string(1000, 'x'));
    EXPECT_FALSE(s.Read(7, 999, &back, &err));  // the size is checked
    EXPECT_NE(err.find("1000 bytes, not 999"), std::string::npos) << err;
    s.Delete(7);
    EXPECT_FALSE(s.Read(7, 1000, &back, &err));
    EXPECT_NE(err.find("cannot open spill file"), std::string::npos) << err;
    s.Write(8, Buf(std::string("y")));
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));  // removed with it
}

}  // namespace
}  // namespace dray::real
