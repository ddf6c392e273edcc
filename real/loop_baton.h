// A worker process's event loop, run by whichever of two threads holds the
// baton (docs/architecture.md, "A worker's two threads"): the transport's
// loop thread, or the worker's user thread while it waits for its next task
// and right after one ends. A short task then costs no thread hand-off in
// the worker: the user thread reads the task's frame, steps the Owner, runs
// the task, steps its return and writes the result itself.
//
// The baton is held by exactly one of:
//  - kLoop: the loop thread runs the io_context;
//  - kUserLoop: the user thread runs it (waiting for a task, or stepping what
//    a task it just ran posted);
//  - kUserCode: the user thread runs user code and nobody runs the loop.
//    When user code waits for the loop (a Get, a Wait, a Put's result), the
//    user thread runs the loop itself until the answer is there
//    (RunWhileWaiting); before it blocks on anything else (a sleep) it hands
//    the baton to the loop thread (Release). A task that runs longer than the
//    takeover time without blocking loses it to the loop thread, which checks
//    at most every kMaxCheck (so a long computation delays the worker's other
//    messages by at most that much).
// Only the holder touches the io_context; hand-overs go through one mutex,
// so the two threads never run handlers at the same time. The user thread is
// the one that first calls RunUntil: the user-side calls act only on it (on
// any other thread they do nothing and return false), so no third thread can
// run the loop.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace boost::asio {
class io_context;
}

namespace dray::real {

class LoopBaton {
 public:
  enum Holder : uint8_t { kLoop, kUserLoop, kUserCode };
  static constexpr std::chrono::milliseconds kMinCheck{1};
  static constexpr std::chrono::milliseconds kMaxCheck{64};

  explicit LoopBaton(std::chrono::nanoseconds takeover = std::chrono::milliseconds(1)) : takeover_(takeover) {}

  // The loop thread's body (TransportOptions::run_loop): runs `io` while it
  // holds the baton; returns once `io` has run out of work (stopped).
  void RunLoopThread(boost::asio::io_context& io);

  // User thread: takes the baton (from the loop thread if it has it), then
  // runs the loop's handlers until `ready()`; keeps the baton (kUserLoop).
  // Returns false if the loop has stopped.
  bool RunUntil(const std::function<bool()>& ready);
  // User thread, holding the baton (kUserLoop): user code begins (kUserCode).
  void BeginUserCode();
  // User thread: user code ended. True if it still holds the baton (back to
  // kUserLoop), false if the loop thread took it over meanwhile.
  bool EndUserCode();
  // User thread, in user code that must wait for the loop (a Get, a Put's
  // result, a store grant): if it still holds the baton, it runs the loop
  // itself until `ready()` or `deadline`, then goes back to user code, and
  // returns true; false (nothing run) if the loop thread has the baton.
  bool RunWhileWaiting(const std::function<bool()>& ready,
                       std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
  // Any thread, before blocking on something else (a sleep): if user code
  // holds the baton, the loop thread gets it.
  void Release();
  // User thread, holding the baton (kUserLoop): runs the handlers ready now.
  void Poll();

  Holder holder();
  uint64_t takeovers();  // times the loop thread took the baton from user code

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  boost::asio::io_context* io_ = nullptr;  // set by RunLoopThread
  Holder holder_ = kLoop;
  bool want_ = false;     // the user thread asks the loop thread for the baton
  bool stopped_ = false;  // the loop ran out of work
  std::thread::id user_;  // the user thread (set by its first RunUntil)
  bool IsUser() const { return user_ == std::this_thread::get_id(); }  // REQUIRES: mu_
  uint64_t code_runs_ = 0;
  uint64_t takeovers_ = 0;
  std::chrono::steady_clock::time_point code_since_;
  const std::chrono::nanoseconds takeover_;
};

}  // namespace dray::real
