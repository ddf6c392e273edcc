#include "real/transport.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "core/common/assert.h"

namespace dray::real {

namespace asio = boost::asio;
using boost::system::error_code;
using Proto = asio::generic::stream_protocol;
using tcp = asio::ip::tcp;
using Acceptor = asio::basic_socket_acceptor<Proto>;

namespace {

tcp::endpoint ToTcp(const Proto::endpoint& g) {
  tcp::endpoint t;
  DRAY_ASSERT(g.size() <= t.capacity());
  std::memcpy(t.data(), g.data(), g.size());
  t.resize(g.size());
  return t;
}

std::string TcpName(const tcp::endpoint& e) {
  std::ostringstream s;
  s << "tcp " << e;
  return s.str();
}

// Who is on the other end of an accepted socket, for log lines.
std::string InboundPeer(StreamSocket& s, const std::string& unix_path) {
  error_code ec;
  if (!unix_path.empty()) {
    std::string name = "unix " + unix_path;
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      name += " (pid " + std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid) + ")";
    return name;
  }
  Proto::endpoint e = s.remote_endpoint(ec);
  return ec ? "tcp (unknown peer: " + ec.message() + ")" : TcpName(ToTcp(e));
}

}  // namespace

class Transport::Impl : public ConnectionHost {
 public:
  Impl(TransportOptions o, TransportHandlers h) : options(std::move(o)), handlers(std::move(h)) {
    DRAY_ASSERT(!options.connection.token.empty(), "a transport without a cluster token");
    if (!options.log) options.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    thread = std::thread([this] {
      if (options.run_loop) options.run_loop(io);
      else io.run();
    });
  }

  bool IsStopped() {
    std::lock_guard<std::mutex> lock(stop_mu);
    return stopped;
  }

  // Runs f on the loop and returns its result; inline when already there.
  // REQUIRES: not stopped (else nothing would run it).
  template <class F>
  auto OnLoop(F f) -> decltype(f()) {
    if (io.get_executor().running_in_this_thread()) return f();
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }

  // ---- ConnectionHost ----
  void OnOpen(ConnId id) override {
    auto it = conns.find(id);
    DRAY_ASSERT(it != conns.end());
    ++open_count;
    if (handlers.on_open) handlers.on_open(id, it->second->peer(), outbound.count(id) > 0);
  }
  void OnMessage(ConnId id, Message&& m) override {
    if (handlers.on_message) handlers.on_message(id, std::move(m));
  }
  void OnRouted(ConnId id, const Route& route, Message&& m) override {
    if (handlers.on_routed) handlers.on_routed(id, route, std::move(m));
  }
  bool ResolveShm(ConnId id, std::vector<Buf>& attachments, std::string* error) override {
    if (handlers.resolve_shm) return handlers.resolve_shm(id, attachments, error);
    return ConnectionHost::ResolveShm(id, attachments, error);
  }
  void OnControl(ConnId id, std::string&& body) override {
    if (handlers.on_control) {
      handlers.on_control(id, std::move(body));
    } else if (auto it = conns.find(id); it != conns.end()) {
      it->second->Close("a control frame, which this process does not take");
    }
  }
  void OnClosed(ConnId id, bool was_open, const std::string& reason) override {
    DRAY_ASSERT(conns.count(id) == 1);
    conns.erase(id);
    if (was_open) --open_count;
    bool dialled = outbound.erase(id) > 0;
    if ((was_open || dialled) && handlers.on_close) handlers.on_close(id, reason);
  }
  void Log(const std::string& line) override { options.log(line); }

  // ---- loop thread ----
  void Adopt(StreamSocket s, std::string peer, ConnId id, bool is_outbound) {
    error_code ec;
    if (peer.rfind("tcp", 0) == 0) s.set_option(tcp::no_delay(true), ec);
    auto c = std::make_shared<Connection>(*this, options.connection, id, std::move(s), std::move(peer), is_outbound);
    conns[id] = c;
    if (is_outbound) outbound.insert(id);
    c->Start();
  }

  void Accept(Acceptor* a, std::string unix_path) {
    a->async_accept([this, a, unix_path](const error_code& ec, StreamSocket s) {
      if (stopping) return;
      if (ec) {
        if (ec == asio::error::operation_aborted || !a->is_open()) return;
        Log("dray: accept failed on " + (unix_path.empty() ? std::string("a tcp listener") : unix_path) + ": " +
            ec.message() + "; retrying in 100 ms");
        // Out of descriptors, say: wait rather than spin.
        auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
        t->async_wait([this, a, unix_path, t](const error_code&) {
          if (!stopping && a->is_open()) Accept(a, unix_path);
        });
        return;
      } else {
        std::string peer = InboundPeer(s, unix_path);
        Adopt(std::move(s), std::move(peer), next_id++, false);
      }
      Accept(a, unix_path);
    });
  }

  bool Listen(const Proto::endpoint& ep, const std::string& unix_path, Proto::endpoint* bound, std::string* error) {
    auto a = std::make_unique<Acceptor>(io);
    error_code ec;
    a->open(ep.protocol(), ec);
    if (!ec && unix_path.empty()) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) *bound = a->local_endpoint(ec);
    if (ec) {
      *error = ec.message();
      return false;
    }
    Accept(a.get(), unix_path);
    acceptors.push_back(std::move(a));
    if (!unix_path.empty()) unix_paths.push_back(unix_path);
    return true;
  }

  void DialTcp(ConnId id, std::string host, uint16_t port) {
    auto resolver = std::make_shared<tcp::resolver>(io);
    resolvers[id] = resolver;
    resolver->async_resolve(host, std::to_string(port),
                            [this, id, host, port, resolver](const error_code& ec, tcp::resolver::results_type r) {
                              resolvers.erase(id);
                              if (cancelled.erase(id)) return DialFailed(id, "closed by this process");
                              std::string where = host + ":" + std::to_string(port);
                              if (stopping || ec) return DialFailed(id, "cannot resolve " + where + ": " + ec.message());
                              std::vector<tcp::endpoint> eps;
                              for (const auto& e : r) eps.push_back(e.endpoint());
                              TryEndpoints(id, where, std::move(eps), 0, "no address");
                            });
  }

  void TryEndpoints(ConnId id, std::string where, std::vector<tcp::endpoint> eps, size_t i, std::string last) {
    if (stopping) return DialFailed(id, "the transport stopped");
    if (i == eps.size()) return DialFailed(id, "cannot connect to " + where + ": " + last);
    Dial(id, Proto::endpoint(eps[i]), TcpName(eps[i]),
         [this, id, where, eps, i](const std::string& why) { TryEndpoints(id, where, eps, i + 1, why); });
  }

  // Connects a socket to `ep`; adopts it, or calls `failed` with the reason.
  void Dial(ConnId id, const Proto::endpoint& ep, std::string peer, std::function<void(const std::string&)> failed) {
    auto s = std::make_shared<StreamSocket>(io);
    dials[id] = s;
    s->async_connect(ep, [this, id, s, peer, failed](const error_code& ec) {
      dials.erase(id);
      if (cancelled.erase(id)) return DialFailed(id, "closed by this process");
      if (stopping) return DialFailed(id, "the transport stopped");
      if (ec) return failed(ec.message());
      Adopt(std::move(*s), peer, id, true);
    });
  }

  void DialFailed(ConnId id, const std::string& reason) {
    Log("dray: connection " + std::to_string(id) + " not made: " + reason);
    if (handlers.on_close) handlers.on_close(id, reason);
  }

  void CloseAll() {
    stopping = true;
    error_code ignored;
    for (auto& a : acceptors) a->close(ignored);
    for (const auto& p : unix_paths) ::unlink(p.c_str());
    for (auto& [id, r] : resolvers) r->cancel();
    for (auto& [id, s] : dials) s->close(ignored);
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [id, c] : conns) all.push_back(c);
    for (auto& c : all) c->Close("the transport stopped", false);
  }

  TransportOptions options;
  TransportHandlers handlers;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::atomic<ConnId> next_id{1};
  std::atomic<size_t> open_count{0};
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu
  // Loop thread only:
  bool stopping = false;
  std::map<ConnId, std::shared_ptr<Connection>> conns;
  std::set<ConnId> outbound;
  std::map<ConnId, std::shared_ptr<tcp::resolver>> resolvers;
  std::map<ConnId, std::shared_ptr<StreamSocket>> dials;
  std::set<ConnId> cancelled;  // dials closed by Close() before they connected
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::vector<std::string> unix_paths;
};

Transport::Transport(TransportOptions options, TransportHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handlers))) {}

Transport::~Transport() { Stop(); }

void Transport::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  DRAY_ASSERT(!OnLoopThread(), "Transport::Stop on its own event-loop thread");
  asio::post(impl_->io, [this] { impl_->CloseAll(); });
  impl_->work.reset();
  impl_->thread.join();  // run() returns once every socket, timer and dial has finished
}

bool Transport::OnLoopThread() const { return impl_->io.get_executor().running_in_this_thread(); }
size_t Transport::open_connections() const { return impl_->open_count.load(); }
bool Transport::Congested() const {
  for (const auto& [id, c] : impl_->conns)
    if (c->congested()) return true;
  return false;
}

bool Transport::ListenTcp(const std::string& host, uint16_t port, uint16_t* bound_port, std::string* error) {
  if (impl_->IsStopped()) {
    *error = "the transport is stopped";
    return false;
  }
  error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "cannot listen on " + host + ":" + std::to_string(port) + ": not an IP address (" + ec.message() + ")";
    return false;
  }
  return impl_->OnLoop([&] {
    Proto::endpoint bound;
    std::string why;
    if (!impl_->Listen(Proto::endpoint(tcp::endpoint(addr, port)), "", &bound, &why)) {
      *error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + why;
      return false;
    }
    if (bound_port) *bound_port = ToTcp(bound).port();
    return true;
  });
}

bool Transport::ListenUnix(const std::string& path, std::string* error) {
  if (impl_->IsStopped()) {
    *error = "the transport is stopped";
    return false;
  }
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "cannot listen on " + path + ": a Unix socket path must have 1 to " +
             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes";
    return false;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "cannot listen on " + path + ": something that is not a socket is there";
      return false;
    }
    // A socket file: stale unless someone answers on it.
    asio::io_context probe_io;
    asio::local::stream_protocol::socket probe(probe_io);
    error_code ec;
    probe.connect(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) {
      *error = "cannot listen on " + path + ": another process listens there";
      return false;
    }
    ::unlink(path.c_str());
  }
  return impl_->OnLoop([&] {
    Proto::endpoint bound;
    std::string why;
    if (!impl_->Listen(Proto::endpoint(asio::local::stream_protocol::endpoint(path)), path, &bound, &why)) {
      *error = "cannot listen on " + path + ": " + why;
      return false;
    }
    return true;
  });
}

ConnId Transport::ConnectTcp(const std::string& host, uint16_t port) {
  ConnId id = impl_->next_id++;
  asio::post(impl_->io, [this, id, host, port] { impl_->DialTcp(id, host, port); });
  return id;
}

ConnId Transport::ConnectUnix(const std::string& path) {
  ConnId id = impl_->next_id++;
  asio::post(impl_->io, [this, id, path] {
    if (impl_->stopping) return impl_->DialFailed(id, "the transport stopped");
    impl_->Dial(id, Proto::endpoint(asio::local::stream_protocol::endpoint(path)), "unix " + path,
                [this, id, path](const std::string& why) { impl_->DialFailed(id, "cannot connect to " + path + ": " + why); });
  });
  return id;
}

bool Transport::Send(ConnId id, const Message& m, std::string* error) { return SendFrame(id, EncodeFrame(m), error); }

bool Transport::SendFrame(ConnId id, Frame f, std::string* error) {
  if (!OnLoopThread() && impl_->IsStopped()) {
    *error = "the transport is stopped";
    return false;
  }
  return impl_->OnLoop([&] {
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) {
      *error = "no connection " + std::to_string(id);
      return false;
    }
    return it->second->Send(std::move(f), error);
  });
}

bool Transport::SendRouted(ConnId id, const Route& route, Frame f, std::string* error, FrameKind kind) {
  if (!OnLoopThread() && impl_->IsStopped()) {
    *error = "the transport is stopped";
    return false;
  }
  return impl_->OnLoop([&] {
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) {
      *error = "no connection " + std::to_string(id);
      return false;
    }
    return it->second->SendRouted(route, std::move(f), error, kind);
  });
}

bool Transport::SendControl(ConnId id, std::string body, std::string* error) {
  if (!OnLoopThread() && impl_->IsStopped()) {
    *error = "the transport is stopped";
    return false;
  }
  return impl_->OnLoop([&] {
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) {
      *error = "no connection " + std::to_string(id);
      return false;
    }
    return it->second->SendControl(std::move(body), error);
  });
}

asio::io_context& Transport::context() { return impl_->io; }

void Transport::Close(ConnId id) {
  Post([this, id] {
    error_code ignored;
    if (auto r = impl_->resolvers.find(id); r != impl_->resolvers.end()) {
      impl_->cancelled.insert(id);
      r->second->cancel();
    }
    if (auto d = impl_->dials.find(id); d != impl_->dials.end()) {
      impl_->cancelled.insert(id);
      d->second->close(ignored);
    }
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) return;
    std::shared_ptr<Connection> c = it->second;
    c->Close("closed by this process", false);
  });
}

void Transport::Post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

}  // namespace dray::real
