// One stream connection of the real transport (real/transport.h): the
// handshake first, then frames in and frames out. Runs on the transport's
// event-loop thread only. A peer that breaks the protocol (bad bytes, an
// oversized or malformed frame, a message before the handshake, silence past
// the handshake timeout) gets this connection closed with one log line naming
// the peer and the reason; nothing else is affected.
#pragma once
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/proto/codec.h"
#include "real/handshake.h"
#include "real/wire_frame.h"

namespace dray::real {

using ConnId = uint64_t;

// Who sent a routed message and to whom (docs/protocol.md, "Routing"): on the
// wire, four little-endian u32 (from.node, from.proc, to.node, to.proc)
// before the message's header in a kRouted frame.
struct Route {
  Addr from;
  Addr to;
};
inline constexpr size_t kRouteBytes = 16;
using StreamSocket = boost::asio::generic::stream_protocol::socket;

struct ConnectionOptions {
  std::string token;  // the cluster token; REQUIRES: not empty
  FrameLimits limits;  // after the handshake (before it: kHandshakeLimits)
  std::chrono::milliseconds handshake_timeout{5000};
  size_t write_queue_max_frames = 4096;
  uint64_t write_queue_max_bytes = 1ull << 30;
  // After the handshake, large attachments are read into this (a node's store).
  internal::ValueArena* arena = nullptr;
};

// What a connection tells its owner (the transport). Called on the loop thread.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual void OnOpen(ConnId id) = 0;                      // the handshake succeeded
  virtual void OnMessage(ConnId id, Message&& m) = 0;
  // A kRouted frame; by default refused like a malformed frame would be.
  virtual void OnRouted(ConnId id, const Route& route, Message&& m) {}
  // A kRoutedShm frame's descriptors, to be replaced by the store's bytes
  // they name; false with *error refuses the frame (and closes).
  virtual bool ResolveShm(ConnId id, std::vector<Buf>& attachments, std::string* error) {
    *error = "a shared-memory frame, which this process does not take";
    return false;
  }
  // A kControl frame's body (the host decodes it).
  virtual void OnControl(ConnId id, std::string&& body) {}
  virtual void OnClosed(ConnId id, bool was_open, const std::string& reason) = 0;  // once, last
  virtual void Log(const std::string& line) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnectionHost& host, const ConnectionOptions& options, ConnId id, StreamSocket socket, std::string peer,
             bool outbound);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Arms the handshake timer, sends HELLO if outbound, starts reading.
  void Start();
  // Queues a message frame. False with *error if the handshake is not over,
  // the connection is closing, the frame is over the limits or the write
  // queue is full (the caller decides: retry later or Close).
  bool Send(Frame f, std::string* error);
  // The same, as a kRouted frame carrying `route` (the header is copied once;
  // attachments are not).
  bool SendRouted(const Route& route, Frame f, std::string* error, FrameKind kind = FrameKind::kRouted);
  // A kControl frame with `body` as its header.
  bool SendControl(std::string body, std::string* error);
  // Closes now, dropping queued frames; logs `reason` if `log`. The host
  // hears OnClosed once.
  void Close(const std::string& reason, bool log = true);

  ConnId id() const { return id_; }
  const std::string& peer() const { return peer_; }
  bool open() const { return open_; }
  size_t queued_frames() const { return queue_.size(); }
  uint64_t queued_bytes() const { return queued_bytes_; }
  // Its write queue is past a quarter of its limits (a host stops taking
  // new work from its user threads until it drains).
  bool congested() const {
    return queue_.size() >= std::max<size_t>(1, options_.write_queue_max_frames / 4) ||
           queued_bytes_ >= std::max<uint64_t>(1, options_.write_queue_max_bytes / 4);
  }

 private:
  struct Out {
    std::string prefix;
    Frame frame;
  };
  void Read();
  void OnBytes(const char* data, size_t size);
  bool OnFrame(WireFrame&& f);  // false: the connection was closed
  bool OnHandshakeBody(const std::string& body);
  void Enqueue(FrameKind kind, Frame f);
  bool CanSend(const Frame& f, std::string* error);
  void WriteNext();
  // Sends what is queued (a rejection), then closes; bounded by a timer.
  void CloseAfterFlush(const std::string& reason);

  ConnectionHost& host_;
  const ConnectionOptions& options_;
  const ConnId id_;
  StreamSocket socket_;
  const std::string peer_;
  const bool outbound_;
  boost::asio::steady_timer timer_;
  FrameReader reader_{kHandshakeLimits};
  std::optional<ClientHandshake> client_;
  std::optional<ServerHandshake> server_;
  bool open_ = false;     // the handshake succeeded
  bool closed_ = false;
  bool flushing_ = false;  // closing once the queue is written
  std::string flush_reason_;
  std::deque<Out> queue_;  // the front is being written while writing_
  uint64_t queued_bytes_ = 0;
  bool writing_ = false;
  std::array<char, 64 * 1024> buf_;
};

}  // namespace dray::real
