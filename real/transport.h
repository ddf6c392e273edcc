// The real transport (DESIGN §5): one Boost.Asio event-loop thread, listeners
// on TCP and Unix domain sockets, outbound connections; every connection runs
// the cluster-token handshake (real/handshake.h) before anything else, then
// carries message frames (real/wire_frame.h) both ways. A peer that breaks
// the protocol loses its connection, with one log line naming it and the
// reason; the process keeps serving everyone else.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/proto/codec.h"
#include "real/connection.h"

namespace boost::asio {
class io_context;
}


namespace dray::real {

struct TransportOptions {
  ConnectionOptions connection;  // token, limits, handshake timeout, write queue bounds
  // One line per connection closed for a reason other than our own Close
  // (a protocol error, a failed handshake, the peer leaving). Default: stderr.
  std::function<void(const std::string&)> log;
  // Set: the loop thread runs this instead of io_context::run() (a worker's
  // LoopBaton::RunLoopThread); it must return once the context runs out of work.
  std::function<void(boost::asio::io_context&)> run_loop;
};

// Called on the event-loop thread; they may call Send and Close.
struct TransportHandlers {
  // The handshake succeeded; `outbound`: we dialled.
  std::function<void(ConnId, const std::string& peer, bool outbound)> on_open;
  std::function<void(ConnId, Message&&)> on_message;
  // A routed message (kRouted frame); unset: such frames are dropped.
  std::function<void(ConnId, const Route&, Message&&)> on_routed;
  // A kRoutedShm frame's descriptors to resolve (ConnectionHost::ResolveShm);
  // unset: such frames are refused.
  std::function<bool(ConnId, std::vector<Buf>&, std::string*)> resolve_shm;
  // A kControl frame's body; unset: the connection is closed.
  std::function<void(ConnId, std::string&&)> on_control;
  // Once per opened connection and per Connect* id (also when the dial or the
  // handshake failed), never for inbound peers that did not authenticate.
  std::function<void(ConnId, const std::string& reason)> on_close;
};

class Transport {
 public:
  // Starts the event-loop thread. REQUIRES: options.connection.token not empty.
  Transport(TransportOptions options, TransportHandlers handlers);
  ~Transport();  // Stop()
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Listens on host:port (port 0 picks one; *bound_port says which). Any thread.
  bool ListenTcp(const std::string& host, uint16_t port, uint16_t* bound_port, std::string* error);
  // Listens on a Unix domain socket at `path` (a stale socket file there is
  // replaced; anything else there is an error). Any thread.
  bool ListenUnix(const std::string& path, std::string* error);
  // Dials; the id is known at once, on_open or on_close follows. Any thread.
  ConnId ConnectTcp(const std::string& host, uint16_t port);
  ConnId ConnectUnix(const std::string& path);

  // Queues a message on an open connection. False with *error when the
  // connection is unknown, not open, closing, the frame is over the limits
  // or the write queue is full. Any thread (from another thread it waits for
  // the loop).
  bool Send(ConnId id, const Message& m, std::string* error);
  bool SendFrame(ConnId id, Frame f, std::string* error);
  // As SendFrame, as a routed frame (from, to) (docs/protocol.md, "Routing").
  bool SendRouted(ConnId id, const Route& route, Frame f, std::string* error, FrameKind kind = FrameKind::kRouted);
  // A kControl frame (a host's own message) with `body` as its header.
  bool SendControl(ConnId id, std::string body, std::string* error);
  // Closes a connection, dropping what is queued; on_close follows. Any thread.
  void Close(ConnId id);
  // Runs `fn` on the event-loop thread.
  void Post(std::function<void()> fn);
  // Closes every listener and connection and joins the thread. Idempotent.
  // REQUIRES: not on the event-loop thread.
  void Stop();

  bool OnLoopThread() const;
  // The event loop, for timers and work of the transport's user (a process
  // host). Handlers on it run on the loop thread (in a worker, on whichever
  // thread holds its LoopBaton: one at a time); pending ones keep Stop waiting.
  boost::asio::io_context& context();
  size_t open_connections() const;  // any thread; for tests and status
  // Loop thread: some connection's write queue is congested (Connection::congested).
  bool Congested() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dray::real
