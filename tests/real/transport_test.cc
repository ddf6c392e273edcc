// The real transport on loopback (real/transport.h): a server echoes every
// message; good clients over TCP and a Unix socket get their echo; bad peers
// (random bytes, an HTTP request, a truncated frame, an oversized length, a
// message before the handshake, a wrong token, silence) are each closed with
// one log line naming the peer and the reason, and the server keeps serving.
// Every wait polls for a condition with a generous deadline; none sleeps and hopes.
#include "real/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/proto/codec.h"
#include "real/handshake.h"
#include "real/wire_frame.h"

namespace dray::real {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;
const std::string kToken = "transport-test-token-0123456789";

// A transport that records what happens; optionally echoes every message.
class Peer {
 public:
  explicit Peer(bool echo, std::string token = kToken, FrameLimits limits = FrameLimits{},
                std::chrono::milliseconds handshake_timeout = 5000ms, size_t queue_frames = 4096) {
    TransportOptions o;
    o.connection.token = std::move(token);
    o.connection.limits = limits;
    o.connection.handshake_timeout = handshake_timeout;
    o.connection.write_queue_max_frames = queue_frames;
    o.log = [this](const std::string& line) { Record([&] { logs_.push_back(line); }); };
    TransportHandlers h;
    h.on_open = [this](ConnId id, const std::string& peer, bool) { Record([&] { opened_[id] = peer; }); };
    h.on_message = [this, echo](ConnId id, Message&& m) {
      if (echo) {
        std::string err;
        EXPECT_TRUE(t_->Send(id, m, &err)) << err;
      }
      Record([&] { messages_[id].push_back(std::move(m)); });
    };
    h.on_close = [this](ConnId id, const std::string& reason) { Record([&] { closed_[id] = reason; }); };
    t_ = std::make_unique<Transport>(std::move(o), std::move(h));
  }

  Transport& t() { return *t_; }

  // Waits until pred() (called under the lock) holds; false at the deadline.
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, pred);
  }
  bool WaitOpen(ConnId id) { return WaitFor([&] { return opened_.count(id) > 0 || closed_.count(id) > 0; }) && IsOpen(id); }
  bool IsOpen(ConnId id) {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_.count(id) > 0 && closed_.count(id) == 0;
  }
  std::string WaitClosed(ConnId id) {
    if (!WaitFor([&] { return closed_.count(id) > 0; })) return "(not closed before the deadline)";
    std::lock_guard<std::mutex> lock(mu_);
    return closed_[id];
  }
  // The first log line containing every one of `parts`, or "".
  std::string WaitLog(const std::vector<std::string>& parts) {
    std::string found;
    WaitFor([&] {
      for (const auto& l : logs_) {
        bool all = true;
        for (const auto& p : parts) all = all && l.find(p) != std::string::npos;
        if (all) {
          found = l;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<Message> WaitMessages(ConnId id, size_t n) {
    WaitFor([&] { return messages_[id].size() >= n; });
    std::lock_guard<std::mutex> lock(mu_);
    return messages_[id];
  }
  // Waits for n messages over all connections; how many came.
  size_t WaitAnyMessages(size_t n) {
    auto count = [&] {
      size_t k = 0;
      for (const auto& [id, ms] : messages_) k += ms.size();
      return k;
    };
    WaitFor([&] { return count() >= n; });
    std::lock_guard<std::mutex> lock(mu_);
    return count();
  }
  std::vector<std::string> logs() {
    std::lock_guard<std::mutex> lock(mu_);
    return logs_;
  }

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
  std::vector<std::string> logs_;
  std::map<ConnId, std::string> opened_;
  std::map<ConnId, std::string> closed_;
  std::map<ConnId, std::vector<Message>> messages_;
  std::unique_ptr<Transport> t_;
};

Message BigChunk(size_t bytes) {
  ObjectChunk c;
  c.id = ObjectId{9, 1};
  c.found = true;
  c.size = bytes;
  std::string data(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(i * 131 + 7);
  c.data = Buf(std::move(data));
  return c;
}

// A plain TCP socket to the server, for peers that are not dray.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    name_ = "tcp 127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~RawSocket() { Close(); }
  void Write(const std::string& s) { EXPECT_EQ(::write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads until `n` bytes, EOF or the deadline; returns what came.
  std::string Read(size_t n) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + kDeadline;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t r = ::read(fd_, buf, std::min(sizeof buf, n - out.size()));
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // True once the server closed its end (EOF or reset) before the deadline.
  bool WaitServerClosed() {
    auto end = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r <= 0) return true;
    }
    return false;
  }
  const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  std::string name_;
};

std::string HandshakeWire(const std::string& body) { return EncodeWireFrame(FrameKind::kHandshake, Frame{body, {}}); }

uint16_t ListenTcp(Peer& p) {
  uint16_t port = 0;
  std::string err;
  EXPECT_TRUE(p.t().ListenTcp("127.0.0.1", 0, &port, &err)) << err;
  EXPECT_NE(port, 0);
  return port;
}

void ExpectEcho(Peer& server, uint16_t port) {
  Peer client(false);
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(client.WaitOpen(c)) << client.WaitClosed(c);
  Message small = HealthCheck{41};
  Message big = BigChunk(3 << 20);  // 3 MiB: an attachment, many reads
  std::string err;
  ASSERT_TRUE(client.t().Send(c, small, &err)) << err;
  ASSERT_TRUE(client.t().Send(c, big, &err)) << err;
  auto got = client.WaitMessages(c, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(EncodeMessage(got[0]), EncodeMessage(small));
  EXPECT_EQ(EncodeMessage(got[1]), EncodeMessage(big));
}

TEST(Transport, EchoOverTcp) {
  Peer server(true);
  uint16_t port = ListenTcp(server);
  ExpectEcho(server, port);
  EXPECT_TRUE(server.logs().empty() || server.logs()[0].find("the peer closed") != std::string::npos);
}

// Routed frames (kind 3): the route arrives as sent, with the message and
// its attachment; an unrouted message on the same connection still arrives as
// one (docs/protocol.md, "Routing").
TEST(Transport, RoutedFramesCarryTheirRoute) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Route, Message>> routed;
  TransportOptions o;
  o.connection.token = kToken;
  TransportHandlers h;
  h.on_routed = [&](ConnId, const Route& r, Message&& m) {
    std::lock_guard<std::mutex> lock(mu);
    routed.emplace_back(r, std::move(m));
    cv.notify_all();
  };
  Transport server(std::move(o), std::move(h));
  uint16_t port = 0;
  std::string err;
  ASSERT_TRUE(server.ListenTcp("127.0.0.1", 0, &port, &err)) << err;
  Peer client(false);
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(client.WaitOpen(c)) << client.WaitClosed(c);
  Message big = BigChunk(1 << 20);
  Route r1{Addr{0, 66}, Addr{0, 2}};
  Route r2{Addr{7, 0xfffffffe}, Addr{0xffffffff, 1}};
  ASSERT_TRUE(client.t().SendRouted(c, r1, EncodeFrame(HealthCheck{5}), &err)) << err;
  ASSERT_TRUE(client.t().SendRouted(c, r2, EncodeFrame(big), &err)) << err;
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return routed.size() >= 2; }));
  EXPECT_EQ(routed[0].first.from, r1.from);
  EXPECT_EQ(routed[0].first.to, r1.to);
  EXPECT_EQ(EncodeMessage(routed[0].second), EncodeMessage(HealthCheck{5}));
  EXPECT_EQ(routed[1].first.from, r2.from);
  EXPECT_EQ(routed[1].first.to, r2.to);
  EXPECT_EQ(EncodeMessage(routed[1].second), EncodeMessage(big));
}

TEST(Transport, EchoOverUnixSocketReplacingAStaleFile) {
  std::string path = std::filesystem::temp_directory_path() / ("dray-transport-" + std::to_string(::getpid()) + ".sock");
  {
    // A stale socket file: bound, then its process is gone.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ::unlink(path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  Peer server(true);
  std::string err;
  ASSERT_TRUE(server.t().ListenUnix(path, &err)) << err;
  Peer other(true);
  EXPECT_FALSE(other.t().ListenUnix(path, &err));
  EXPECT_NE(err.find("another process listens there"), std::string::npos) << err;
  Peer client(false);
  ConnId c = client.t().ConnectUnix(path);
  ASSERT_TRUE(client.WaitOpen(c)) << client.WaitClosed(c);
  Message big = BigChunk(1 << 20);
  ASSERT_TRUE(client.t().Send(c, big, &err)) << err;
  auto got = client.WaitMessages(c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(EncodeMessage(got[0]), EncodeMessage(big));
  client.t().Close(c);
  EXPECT_EQ(client.WaitClosed(c), "closed by this process");
  EXPECT_NE(server.WaitLog({"unix " + path, "(pid " + std::to_string(::getpid()), "the peer closed the connection"}),
            "");
  server.t().Stop();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Transport, BadPeersAreClosedWithOneLineAndTheServerKeepsServing) {
  Peer server(true, kToken, FrameLimits{.max_frame_bytes = 1 << 20, .max_header_bytes = 1 << 16, .max_attachments = 8},
              1000ms);
  uint16_t port = ListenTcp(server);
  auto expect_closed = [&](RawSocket& s, const std::vector<std::string>& reason) {
    EXPECT_TRUE(s.WaitServerClosed()) << s.name() << " was not closed";
    std::vector<std::string> parts = reason;
    parts.push_back("with " + s.name() + " closed: ");
    std::string line = server.WaitLog(parts);
    EXPECT_NE(line, "") << "no log line for " << s.name() << " naming: " << reason[0];
    size_t lines = 0;
    for (const auto& l : server.logs()) lines += l.find("with " + s.name() + " ") != std::string::npos;
    EXPECT_EQ(lines, 1u) << s.name();
  };
  {
    RawSocket s(port);
    s.Write(std::string("\x8f\x13\xfe\x00\x42\x99\x10\x01\x77\x65\xaa\xbb\xcc\xdd\xee\xff\x00", 17));
    expect_closed(s, {"bad magic 0x8f13fe00"});
  }
  {
    RawSocket s(port);
    s.Write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_closed(s, {"bad magic", "HTTP request"});
  }
  {
    RawSocket s(port);
    std::string hello = HandshakeWire(ClientHandshake(kToken, Nonce{}).Hello());
    s.Write(hello.substr(0, 20));
    s.ShutdownWrite();
    expect_closed(s, {"truncated frame: the peer closed the stream after 4 of 34 header bytes"});
  }
  {
    RawSocket s(port);
    std::string p("DRAY\x01\x01\0\0\xff\xff\xff\xff\0\0\0\0", 16);
    s.Write(p);
    expect_closed(s, {"oversized frame: a header of 4294967295 bytes"});
  }
  {
    RawSocket s(port);
    s.Write(EncodeWireFrame(FrameKind::kMessage, EncodeFrame(Message{HealthCheck{1}})));
    expect_closed(s, {"a message frame before the handshake (unauthenticated)"});
  }
  {
    // A client that proves with the wrong token (it skips checking the server).
    RawSocket s(port);
    Nonce nc;
    nc.fill(7);
    s.Write(HandshakeWire(ClientHandshake(kToken, nc).Hello()));
    std::string challenge = s.Read(kPrefixBytes + 65);
    ASSERT_EQ(challenge.size(), kPrefixBytes + 65);
    Nonce ns;
    std::memcpy(ns.data(), challenge.data() + kPrefixBytes + 1, ns.size());
    auto mac = HandshakeMac("not-the-token-0123456789", kClientLabel, nc, ns);
    s.Write(HandshakeWire("\x03" + std::string(reinterpret_cast<const char*>(mac.data()), mac.size())));
    EXPECT_EQ(s.Read(kPrefixBytes + 2), HandshakeWire(std::string("\x04\x00", 2)));  // RESULT: rejected
    expect_closed(s, {"handshake failed: wrong cluster token"});
  }
  {
    RawSocket s(port);  // says nothing
    expect_closed(s, {"no handshake within 1000 ms"});
  }
  {
    // A dray peer with another token refuses the server and is refused.
    Peer wrong(false, "another-cluster-token-0123456789");
    ConnId c = wrong.t().ConnectTcp("127.0.0.1", port);
    std::string reason = wrong.WaitClosed(c);
    EXPECT_NE(reason.find("handshake failed: the server does not know the cluster token"), std::string::npos)
        << reason;
    EXPECT_NE(server.WaitLog({"the peer closed the connection during the handshake"}), "");
  }
  {
    // Authenticated, then a frame over the server's limit: the server closes
    // that connection; the client hears it.
    Peer big(false, kToken, FrameLimits{});
    ConnId c = big.t().ConnectTcp("127.0.0.1", port);
    ASSERT_TRUE(big.WaitOpen(c));
    std::string err;
    ASSERT_TRUE(big.t().Send(c, BigChunk(2 << 20), &err)) << err;
    EXPECT_NE(big.WaitClosed(c), "(not closed before the deadline)");
    EXPECT_NE(server.WaitLog({"oversized frame:", "over the limit of 1048576"}), "");
  }
  // After all that, a good client still gets its echo (under the server's limit).
  Peer client(false);
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(client.WaitOpen(c)) << client.WaitClosed(c);
  std::string err;
  Message m = BigChunk(512 << 10);
  ASSERT_TRUE(client.t().Send(c, m, &err)) << err;
  auto got = client.WaitMessages(c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(EncodeMessage(got[0]), EncodeMessage(m));
  EXPECT_EQ(server.t().open_connections(), 1u);
  for (const auto& l : server.logs()) std::printf("server log: %s\n", l.c_str());
}

TEST(Transport, SendIsRefusedBeforeTheHandshakeAndWhenTheQueueIsFull) {
  Peer server(true);
  uint16_t port = ListenTcp(server);
  Peer client(false, kToken, FrameLimits{}, 5000ms, /*queue_frames=*/3);
  std::string err;
  EXPECT_FALSE(client.t().Send(12345, Message{HealthCheck{1}}, &err));
  EXPECT_NE(err.find("no connection 12345"), std::string::npos) << err;
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(client.WaitOpen(c));
  // In one loop turn no write completes: the fourth frame finds the queue full.
  std::vector<bool> sent;
  std::string last_error;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  client.t().Post([&] {
    for (int i = 0; i < 5; ++i) {
      std::string e;
      sent.push_back(client.t().Send(c, Message{HealthCheck{static_cast<uint64_t>(i)}}, &e));
      if (!e.empty()) last_error = e;
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return done; }));
  }
  EXPECT_EQ(sent, (std::vector<bool>{true, true, true, false, false}));
  EXPECT_NE(last_error.find("write queue"), std::string::npos) << last_error;
  EXPECT_EQ(client.WaitMessages(c, 3).size(), 3u);
}

TEST(Transport, AWriteQueuePastAQuarterOfItsLimitIsCongestedUntilItDrains) {
  Peer server(false);
  uint16_t port = ListenTcp(server);
  Peer client(false, kToken, FrameLimits{}, 5000ms, /*queue_frames=*/8);
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  ASSERT_TRUE(client.WaitOpen(c));
  // In one loop turn no write completes: the second queued frame reaches a
  // quarter of the 8-frame limit.
  std::vector<bool> congested;
  std::promise<void> done;
  client.t().Post([&] {
    congested.push_back(client.t().Congested());
    for (int i = 0; i < 2; ++i) {
      std::string e;
      EXPECT_TRUE(client.t().Send(c, Message{HealthCheck{static_cast<uint64_t>(i)}}, &e)) << e;
      congested.push_back(client.t().Congested());
    }
    done.set_value();
  });
  done.get_future().wait();
  EXPECT_EQ(congested, (std::vector<bool>{false, false, true}));
  EXPECT_EQ(server.WaitAnyMessages(2), 2u);
  std::promise<bool> after;
  client.t().Post([&] { after.set_value(client.t().Congested()); });
  EXPECT_FALSE(after.get_future().get());
}

TEST(Transport, DialFailuresAreReported) {
  Peer client(false);
  // A port with nobody listening: bind one, then close it.
  uint16_t port = 0;
  {
    Peer tmp(false);
    port = ListenTcp(tmp);
  }
  ConnId c = client.t().ConnectTcp("127.0.0.1", port);
  std::string reason = client.WaitClosed(c);
  EXPECT_NE(reason.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << reason;
  // Closed while dialling (the Close runs on the loop before the dial completes).
  Peer server(true);
  uint16_t live = ListenTcp(server);
  ConnId d = client.t().ConnectTcp("127.0.0.1", live);
  client.t().Close(d);
  EXPECT_EQ(client.WaitClosed(d), "closed by this process");
  EXPECT_FALSE(client.IsOpen(d));
  ConnId u = client.t().ConnectUnix("/nonexistent/dray.sock");
  reason = client.WaitClosed(u);
  EXPECT_NE(reason.find("cannot connect to /nonexistent/dray.sock"), std::string::npos) << reason;
}

}  // namespace
}  // namespace dray::real
