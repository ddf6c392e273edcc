#!/usr/bin/env python3
# Prototype patches measured in docs/performance.md. NOT part of the build and
# never applied to this tree: they rewrite a *copy* of the sources so that the
# suggested fixes can be timed against the unchanged code. They match the code
# of commit 209a3ca by exact text and fail loudly once it changes.
#
#   git archive 209a3ca | tar -x -C /tmp/dray-all
#   bench/prototypes/apply.py /tmp/dray-all hash once fiber
#
#   hash   Hasher::Bytes over 32-byte blocks in 4 lanes of 64-bit words
#          (byte-at-a-time FNV for the tail and for inputs under 64 bytes)
#   once   sim: encode each sent message once in StepProc; its bytes feed the
#          effects hash and the send; its hash travels in the event to the
#          receiver's input hash (no second pass over the bytes)
#   fiber  sim: worker processes run as ucontext fibers on the event-loop
#          thread instead of OS threads handed a semaphore baton (the driver
#          keeps its own thread)
# 'hash' and 'once' change trace hashes (not the runs); 'fiber' changes nothing
# observable (same trace hash as without it).
import sys
d, what = sys.argv[1], sys.argv[2:]
def patch(path, old, new):
    p = f"{d}/{path}"; s = open(p).read()
    assert old in s, (path, old[:60]); open(p, 'w').write(s.replace(old, new))
if 'hash' in what:
    patch('core/common/hash.h', """  Hasher& Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
    return *this;
  }""", """  Hasher& Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    if (n >= 64) {  // PROTOTYPE: 4 lanes of little-endian 64-bit words over 32-byte blocks
      uint64_t l[4] = {h_, h_ ^ 1, h_ ^ 2, h_ ^ 3};
      size_t whole = n & ~size_t{31};
      for (size_t off = 0; off < whole; off += 32)
        for (int i = 0; i < 4; ++i) {
          uint64_t w;
          std::memcpy(&w, p + off + 8 * i, 8);
          if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
          uint64_t x = (l[i] ^ w) * 0x9e3779b97f4a7c15ULL;
          l[i] = (x << 31) | (x >> 33);
        }
      for (uint64_t x : l) h_ = Mix64(h_ ^ x) * 0x100000001b3ULL;
      p += whole;
      n -= whole;
    }
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
    return *this;
  }""")
    patch('core/common/hash.h', "#include <cstddef>", "#include <bit>\n#include <cstddef>\n#include <cstring>")
if 'once' in what:
    patch('sim/world.h', "  void Send(const Addr& from, const Addr& to, const Message& m);",
          "  void Send(const Addr& from, const Addr& to, std::string bytes, uint64_t msg_hash);  // PROTOTYPE")
    patch('sim/world.h', "  std::vector<Effect> effects_;  // reused outbox",
          "  std::vector<Effect> effects_;  // reused outbox\n  std::vector<std::pair<std::string, uint64_t>> send_bytes_;  // PROTOTYPE")
    patch('sim/world.cc', """  uint64_t eh = HashEffects(effects);""", """  send_bytes_.clear();  // PROTOTYPE: encode each sent message once
  uint64_t eh;
  {
    Hasher h;
    static thread_local msgpack::sbuffer sb;
    for (const auto& e : effects) {
      if (const auto* s = std::get_if<EfSend>(&e)) {
        std::string b = EncodeMessage(s->msg);
        uint64_t mh = HashBytes(b.data(), b.size());
        h.U64(0xe5).U64(s->to.Key()).U64(mh);
        send_bytes_.emplace_back(std::move(b), mh);
      } else {
        sb.clear();
        msgpack::pack(sb, e);
        h.U64(sb.size()).Bytes(sb.data(), sb.size());
      }
    }
    eh = h.Done();
  }""")
    patch('sim/world.cc', """void World::ExecEffects(Proc& p, std::vector<Effect>& effects) {
  for (auto& eff : effects) {""", """void World::ExecEffects(Proc& p, std::vector<Effect>& effects) {
  size_t next_send = 0;
  auto sends = std::move(send_bytes_);
  for (auto& eff : effects) {""")
    patch('sim/world.cc', "            Send(p.addr, e.to, e.msg);", """            auto& [b, mh] = sends[next_send++];
            Send(p.addr, e.to, std::move(b), mh);""")
    patch('sim/world.cc', """void World::Send(const Addr& from, const Addr& to, const Message& m) {
  std::string bytes = EncodeMessage(m);""", """void World::Send(const Addr& from, const Addr& to, std::string bytes, uint64_t msg_hash) {""")
    patch('sim/world.cc', "Push(Event{at, 0, Ev::kDeliver, to.Key(), from.Key(), 0, std::move(bytes)});",
          "Push(Event{at, 0, Ev::kDeliver, to.Key(), from.Key(), msg_hash, std::move(bytes)});")
    patch('sim/world.cc', "      uint64_t h = Hasher().U64(e.a).Bytes(e.bytes.data(), e.bytes.size()).Done();",
          "      uint64_t h = Hasher().U64(e.a).U64(e.b).Done();  // PROTOTYPE: hashed once, at the send")
if 'fiber' in what:
    # PROTOTYPE: worker processes as ucontext fibers on the loop thread (the driver keeps its OS thread).
    patch('sim/world.h', "#include <thread>", "#include <thread>\n#include <ucontext.h>")
    patch('sim/world.h', "  std::binary_semaphore loop_sem_{0};", "  std::binary_semaphore loop_sem_{0};\n  ucontext_t loop_ctx_;  // PROTOTYPE: where a worker fiber parks to")
    patch('sim/world.cc', """  std::binary_semaphore sem{0};
  std::thread th;""", """  std::binary_semaphore sem{0};
  std::thread th;
  bool fiber = false;  // PROTOTYPE
  bool started = false;
  ucontext_t ctx;
  std::unique_ptr<char[]> stack;""")
    patch('sim/world.cc', """    parked = true;
    w->loop_sem_.release();
    sem.acquire();
    if (killed) throw ProcessKilled{};""", """    parked = true;
    if (fiber) {
      swapcontext(&ctx, &w->loop_ctx_);
    } else {
      w->loop_sem_.release();
      sem.acquire();
    }
    if (killed) throw ProcessKilled{};""")
    patch('sim/world.cc', """    internal::SetCurrentRuntime(this);
    sem.acquire();  // the first handoff""", """    internal::SetCurrentRuntime(this);
    if (!fiber) sem.acquire();  // the first handoff""")
    patch('sim/world.cc', """    exited = true;
    w->loop_sem_.release();
  }""", """    exited = true;
    if (!fiber) w->loop_sem_.release();
  }  // a fiber returns to the loop through uc_link""")
    patch('sim/world.cc', """void World::Handoff(Proc& p) {
  UserThread& u = *p.user;
  DRAY_ASSERT(u.parked, "handing the baton to a running thread");
  u.parked = false;""", """namespace {
World::UserThread* g_fiber_start = nullptr;  // PROTOTYPE
}
void World::FiberEntry() { g_fiber_start->WorkerMain(); }

void World::SwitchTo(UserThread& u) {
  if (!u.started) {
    u.started = true;
    g_fiber_start = &u;
  }
  internal::SetCurrentRuntime(&u);
  swapcontext(&loop_ctx_, &u.ctx);
  internal::SetCurrentRuntime(nullptr);
}

void World::Handoff(Proc& p) {
  UserThread& u = *p.user;
  DRAY_ASSERT(u.parked, "handing the baton to a running thread");
  u.parked = false;
  if (u.fiber) {
    SwitchTo(u);
    return;
  }""")
    patch('sim/world.h', "  struct UserThread;\n  struct Proc {", " public:\n  struct UserThread;\n  static void FiberEntry();\n  void SwitchTo(UserThread& u);\n\n private:\n  struct Proc {")
    patch('sim/world.cc', """    p->user->killed = true;
    *p->user->alive = false;
    p->user->sem.release();
    loop_sem_.acquire();
    if (p->user->th.joinable()) p->user->th.join();""", """    p->user->killed = true;
    *p->user->alive = false;
    if (p->user->fiber) {
      p->user->parked = false;
      SwitchTo(*p->user);
      continue;
    }
    p->user->sem.release();
    loop_sem_.acquire();
    if (p->user->th.joinable()) p->user->th.join();""")
    patch('sim/world.cc', """        if (p->user->parked) {
          p->user->parked = false;
          p->user->sem.release();
          loop_sem_.acquire();
        }""", """        if (p->user->parked) {
          p->user->parked = false;
          if (p->user->fiber) {
            SwitchTo(*p->user);
          } else {
            p->user->sem.release();
            loop_sem_.acquire();
          }
        }""")
    patch('sim/world.cc', """  UserThread* u = p.user.get();
  p.user->th = std::thread([u] { u->WorkerMain(); });""", """  UserThread* u = p.user.get();
  u->fiber = true;
  constexpr size_t kStack = 1 << 20;
  u->stack.reset(new char[kStack]);
  getcontext(&u->ctx);
  u->ctx.uc_stack.ss_sp = u->stack.get();
  u->ctx.uc_stack.ss_size = kStack;
  u->ctx.uc_link = &loop_ctx_;
  makecontext(&u->ctx, &World::FiberEntry, 0);""")
