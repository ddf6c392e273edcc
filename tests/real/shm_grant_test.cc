// A hub's store grants over a real Unix socket (real/host.h, docs/protocol.md
// "Shared-memory frames"): a peer posing as a worker asks for ranges and
// sends descriptors; every descriptor naming a range it was not granted (never
// granted, another connection's, out of bounds, twice) closes its connection
// with a log line naming the peer and the reason, whatever it held is freed,
// and the hub serves on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "real/host.h"
#include "real/transport.h"
#include "real/wire_frame.h"

namespace dray::real {
namespace {

using namespace std::chrono_literals;

const std::string kToken = "shm-grant-test-token-0123456789abcdef";

Buf Descriptor(uint64_t offset, uint64_t size) {
  std::string d;
  for (uint64_t v : {offset, size})
    for (int b = 0; b < 8; ++b) d.push_back(static_cast<char>(v >> (8 * b)));
  return Buf(std::move(d));
}

// A peer on the hub's Unix socket that speaks only control and raw frames.
class FakeWorker {
 public:
  FakeWorker() {
    TransportOptions o;
    o.connection.token = kToken;
    o.log = [](const std::string&) {};
    TransportHandlers h;
    h.on_open = [this](ConnId, const std::string&, bool) { Record([&] { open_ = true; }); };
    h.on_control = [this](ConnId, std::string&& body) {
      HostControl c;
      std::string err;
      EXPECT_TRUE(DecodeControl(body, &c, &err)) << err;
      Record([&] { answers_.push_back(c); });
    };
    h.on_close = [this](ConnId, const std::string& reason) { Record([&] { closed_ = reason.empty() ? "closed" : reason; }); };
    t_ = std::make_unique<Transport>(std::move(o), std::move(h));
  }

  bool Connect(const std::string& path) {
    id_ = t_->ConnectUnix(path);
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return open_ || !closed_.empty(); }) && open_ && closed_.empty();
  }
  // Asks for `n` bytes; the hub's answer (args: request, offset if granted).
  HostControl Grant(uint64_t n) {
    size_t before = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = answers_.size();
    }
    std::string err;
    EXPECT_TRUE(t_->SendControl(id_, EncodeControl(HostControl{kCtlShmGrant, 0, 0, "", {"1", std::to_string(n)}}), &err))
        << err;
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, 10s, [&] { return answers_.size() > before; })) return {};
    return answers_.back();
  }
  uint64_t GrantOffset(uint64_t n) {
    HostControl c = Grant(n);
    EXPECT_EQ(c.type, kCtlShmGranted);
    EXPECT_EQ(c.args.size(), 2u) << c.text;
    return c.args.size() == 2 ? std::stoull(c.args[1]) : UINT64_MAX;
  }
  void SendDescriptors(std::vector<Buf> descriptors) {
    std::string err;
    Frame f{std::string("\x01", 1), std::move(descriptors)};
    EXPECT_TRUE(t_->SendRouted(id_, Route{Addr{0, 66}, Addr{0, 2}}, std::move(f), &err, FrameKind::kRoutedShm)) << err;
  }
  bool WaitClosed() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return !closed_.empty(); });
  }
  void Close() { t_->Close(id_); }

 private:
  template <class F>
  void Record(F f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      f();
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::string closed_;
  std::vector<HostControl> answers_;
  ConnId id_ = 0;
  std::unique_ptr<Transport> t_;
};

class ShmGrants : public testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempDir() + "dray_shm_grant_" + std::to_string(getpid()) + ".sock";
    HostOptions o;
    o.role = HostRole::kEmbedded;
    o.token = kToken;
    o.listen_unix = path_;
    o.store_bytes = 4 << 20;
    o.grant_max_bytes = 1 << 20;
    hub_ = std::make_unique<Host>(std::move(o));
    std::string err;
    ASSERT_TRUE(hub_->Start(&err)) << err;
  }
  void TearDown() override {
    hub_.reset();
    unlink(path_.c_str());
  }
  // Until the hub holds nothing for anyone (its loop frees on close).
  bool Empty() {
    for (int i = 0; i < 200; ++i) {
      StoreCounters c = hub_->store_counters();
      if (c.granted == 0 && c.lent == 0 && c.used_bytes == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  // A connection that sends `descriptors` after its grants is closed, the log says `why`.
  void ExpectRefused(FakeWorker& w, std::vector<Buf> descriptors, const std::string& why) {
    testing::internal::CaptureStderr();
    w.SendDescriptors(std::move(descriptors));
    bool closed = w.WaitClosed();
    std::this_thread::sleep_for(50ms);  // the hub's log line
    std::string log = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(closed);
    EXPECT_NE(log.find("refused shared-memory frame"), std::string::npos) << log;
    EXPECT_NE(log.find(why), std::string::npos) << log;
    EXPECT_NE(log.find("unix"), std::string::npos) << "the line names the peer: " << log;
  }

  std::string path_;
  std::unique_ptr<Host> hub_;
};

TEST_F(ShmGrants, ARangeNeverGrantedClosesTheConnection) {
  FakeWorker w;
  ASSERT_TRUE(w.Connect(path_));
  ExpectRefused(w, {Descriptor(0, 100000)}, "was not granted to this connection");
  EXPECT_TRUE(Empty());
}

TEST_F(ShmGrants, AnotherConnectionsGrantClosesTheConnection) {
  FakeWorker a, b;
  ASSERT_TRUE(a.Connect(path_));
  ASSERT_TRUE(b.Connect(path_));
  uint64_t off = a.GrantOffset(100000);
  ExpectRefused(b, {Descriptor(off, 100000)}, "was not granted to this connection");
  EXPECT_EQ(hub_->store_counters().granted, 1u) << "b's close frees nothing of a's";
  a.Close();
  EXPECT_TRUE(Empty());
}

TEST_F(ShmGrants, ARangeOutOfBoundsOrOfAnotherSizeClosesTheConnection) {
  FakeWorker w, v;
  ASSERT_TRUE(w.Connect(path_));
  uint64_t off = w.GrantOffset(100000);
  EXPECT_EQ(hub_->store_counters().granted, 1u);
  ExpectRefused(w, {Descriptor(UINT64_MAX - 15, 16)}, "was not granted");
  ASSERT_TRUE(v.Connect(path_));
  off = v.GrantOffset(100000);
  ExpectRefused(v, {Descriptor(off, 100001)}, "is not the 100000 bytes granted");
  EXPECT_TRUE(Empty());
}

TEST_F(ShmGrants, ARangeHandedOverTwiceClosesTheConnection) {
  FakeWorker w;
  ASSERT_TRUE(w.Connect(path_));
  uint64_t off = w.GrantOffset(100000);
  ExpectRefused(w, {Descriptor(off, 100000), Descriptor(off, 100000)}, "was already handed over");
  EXPECT_TRUE(Empty());
}

TEST_F(ShmGrants, AMalformedDescriptorClosesTheConnection) {
  FakeWorker w;
  ASSERT_TRUE(w.Connect(path_));
  w.GrantOffset(100000);
  ExpectRefused(w, {Buf(std::string(15, 'x'))}, "a shared-memory descriptor of 15 bytes");
  EXPECT_TRUE(Empty());
}

TEST_F(ShmGrants, GrantsAreBoundedFreedOnCloseAndTheHubServesOn) {
  FakeWorker w;
  ASSERT_TRUE(w.Connect(path_));
  w.GrantOffset(600 << 10);
  HostControl over = w.Grant(600 << 10);  // over this worker's 1 MiB of ranges not handed over
  EXPECT_EQ(over.args.size(), 1u);
  EXPECT_NE(over.text.find("not yet handed over"), std::string::npos) << over.text;
  HostControl huge = w.Grant(64 << 20);  // bigger than the store
  EXPECT_EQ(huge.args.size(), 1u);
  StoreCounters c = hub_->store_counters();
  EXPECT_EQ(c.granted, 1u);
  EXPECT_EQ(c.grants, 1u);
  EXPECT_EQ(c.refusals, 2u);
  w.Close();
  EXPECT_TRUE(Empty());
  FakeWorker again;
  ASSERT_TRUE(again.Connect(path_));
  again.GrantOffset(600 << 10);
  again.GrantOffset(300 << 10);
}

}  // namespace
}  // namespace dray::real
