#include "real/loop_baton.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "core/common/assert.h"

namespace dray::real {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

void LoopBaton::RunLoopThread(asio::io_context& io) {
  std::unique_lock<std::mutex> lock(mu_);
  io_ = &io;
  cv_.notify_all();  // a RunUntil may wait for it
  for (;;) {
    // Wait for the baton. While user code holds it, look every `check` (1 ms
    // while tasks keep starting, doubling to kMaxCheck while none does).
    std::chrono::milliseconds check = kMinCheck;
    uint64_t seen = code_runs_;
    while (holder_ != kLoop) {
      if (stopped_) return;  // the user thread saw the loop run out of work
      if (holder_ == kUserCode && Clock::now() - code_since_ >= takeover_) {
        holder_ = kLoop;
        ++takeovers_;
        break;
      }
      cv_.wait_for(lock, check);
      if (code_runs_ != seen) {
        seen = code_runs_;
        check = kMinCheck;
      } else {
        check = std::min(check * 2, kMaxCheck);
      }
    }
    lock.unlock();
    for (;;) {
      size_t ran = io.run_one();
      lock.lock();
      if (ran == 0) {
        stopped_ = true;
        cv_.notify_all();
        return;
      }
      if (want_) {
        want_ = false;
        holder_ = kUserLoop;
        cv_.notify_all();
        break;
      }
      lock.unlock();
    }
  }
}

bool LoopBaton::RunUntil(const std::function<bool()>& ready) {
  asio::io_context* io;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (user_ == std::thread::id{}) user_ = std::this_thread::get_id();
    if (!IsUser()) return false;
    if (holder_ == kUserCode) holder_ = kUserLoop;
    if (holder_ == kLoop && !stopped_) {
      cv_.wait(lock, [this] { return io_ != nullptr; });  // the loop thread has started
      want_ = true;
      asio::post(*io_, [] {});  // wakes it if it waits for events
      cv_.wait(lock, [this] { return holder_ == kUserLoop || stopped_; });
    }
    if (stopped_) return false;
    io = io_;
  }
  while (!ready())
    if (io->run_one() == 0) {
      // Out of work: nobody will run the loop again; the loop thread ends.
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      holder_ = kLoop;
      cv_.notify_all();
      return false;
    }
  return true;
}

void LoopBaton::BeginUserCode() {
  std::lock_guard<std::mutex> lock(mu_);
  DRAY_ASSERT(IsUser() && holder_ == kUserLoop, "user code begins without the loop's baton");
  holder_ = kUserCode;
  code_since_ = Clock::now();
  ++code_runs_;
}

bool LoopBaton::EndUserCode() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!IsUser() || holder_ != kUserCode) return false;
  holder_ = kUserLoop;
  return true;
}

bool LoopBaton::RunWhileWaiting(const std::function<bool()>& ready, Clock::time_point deadline) {
  asio::io_context* io;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!IsUser() || holder_ != kUserCode) return false;
    holder_ = kUserLoop;
    io = io_;
  }
  const bool timed = deadline != Clock::time_point::max();
  bool out_of_work = false;
  while (!ready()) {
    if (timed && Clock::now() >= deadline) break;
    size_t ran = timed ? io->run_one_until(deadline) : io->run_one();
    if (ran == 0 && io->stopped()) {
      out_of_work = true;
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (out_of_work) {
    stopped_ = true;
    holder_ = kLoop;
    cv_.notify_all();
    return true;
  }
  DRAY_ASSERT(holder_ == kUserLoop, "the loop's baton moved while the user thread ran the loop");
  holder_ = kUserCode;
  code_since_ = Clock::now();  // a takeover needs its own stretch of user code
  return true;
}

void LoopBaton::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  if (holder_ != kUserCode) return;  // (any thread may: user code holds no loop state)
  holder_ = kLoop;
  cv_.notify_all();
}

void LoopBaton::Poll() {
  asio::io_context* io;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DRAY_ASSERT(IsUser() && holder_ == kUserLoop, "Poll without the loop's baton");
    io = io_;
  }
  io->poll();
}

LoopBaton::Holder LoopBaton::holder() {
  std::lock_guard<std::mutex> lock(mu_);
  return holder_;
}

uint64_t LoopBaton::takeovers() {
  std::lock_guard<std::mutex> lock(mu_);
  return takeovers_;
}

}  // namespace dray::real
