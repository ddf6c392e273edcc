#include "real/connection.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "core/common/assert.h"

namespace dray::real {

namespace asio = boost::asio;
using boost::system::error_code;

Connection::Connection(ConnectionHost& host, const ConnectionOptions& options, ConnId id, StreamSocket socket,
                       std::string peer, bool outbound)
    : host_(host),
      options_(options),
      id_(id),
      socket_(std::move(socket)),
      peer_(std::move(peer)),
      outbound_(outbound),
      timer_(socket_.get_executor()) {
  DRAY_ASSERT(!options_.token.empty(), "a connection without a cluster token");
}

void Connection::Start() {
  Nonce nonce;
  std::string error;
  if (!RandomNonce(&nonce, &error)) return Close(error);
  timer_.expires_after(options_.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->open_ || self->closed_) return;
    self->Close("no handshake within " + std::to_string(self->options_.handshake_timeout.count()) +
                " ms (not a dray peer?)");
  });
  if (outbound_) {
    client_.emplace(options_.token, nonce);
    Enqueue(FrameKind::kHandshake, Frame{client_->Hello(), {}});
  } else {
    server_.emplace(options_.token, nonce);
  }
  Read();
}

namespace {
void PutU32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
}  // namespace

bool Connection::Send(Frame f, std::string* error) {
  if (!CanSend(f, error)) return false;
  Enqueue(FrameKind::kMessage, std::move(f));
  return true;
}

bool Connection::SendRouted(const Route& route, Frame f, std::string* error, FrameKind kind) {
  DRAY_ASSERT(kind == FrameKind::kRouted || kind == FrameKind::kRoutedShm);
  std::string h;
  h.reserve(kRouteBytes + f.header.size());
  PutU32(h, route.from.node);
  PutU32(h, route.from.proc);
  PutU32(h, route.to.node);
  PutU32(h, route.to.proc);
  h += f.header;
  f.header = std::move(h);
  if (!CanSend(f, error)) return false;
  Enqueue(kind, std::move(f));
  return true;
}

bool Connection::SendControl(std::string body, std::string* error) {
  Frame f{std::move(body), {}};
  if (!CanSend(f, error)) return false;
  Enqueue(FrameKind::kControl, std::move(f));
  return true;
}

bool Connection::CanSend(const Frame& f, std::string* error) {
  if (closed_ || flushing_) {
    *error = "the connection to " + peer_ + " is closed";
    return false;
  }
  if (!open_) {
    *error = "the handshake with " + peer_ + " is not over";
    return false;
  }
  if (!FrameFits(f, options_.limits, error)) return false;
  if (queue_.size() >= options_.write_queue_max_frames ||
      queued_bytes_ + f.Bytes() > options_.write_queue_max_bytes) {
    *error = "the write queue to " + peer_ + " is full (" + std::to_string(queue_.size()) + " frames, " +
             std::to_string(queued_bytes_) + " bytes)";
    return false;
  }
  return true;
}

void Connection::Close(const std::string& reason, bool log) {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  timer_.cancel();
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  // A write in flight still points into the front frame: keep it until its
  // (aborted) handler runs.
  while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
  queued_bytes_ = 0;
  if (log) host_.Log("dray: connection " + std::to_string(id_) + " with " + peer_ + " closed: " + reason);
  host_.OnClosed(id_, open_, reason);
}

void Connection::CloseAfterFlush(const std::string& reason) {
  if (queue_.empty()) return Close(reason);
  flushing_ = true;
  flush_reason_ = reason;
  timer_.cancel();
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->Close(self->flush_reason_);
  });
}

void Connection::Read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, size_t n) {
    if (self->closed_ || self->flushing_) return;
    if (ec) {
      if (ec == asio::error::eof) {
        if (self->reader_.Finish() == FrameReader::Status::kError) return self->Close(self->reader_.error());
        return self->Close(self->open_ ? "the peer closed the connection"
                                       : "the peer closed the connection during the handshake");
      }
      return self->Close("read failed: " + ec.message());
    }
    self->OnBytes(self->buf_.data(), n);
    if (!self->closed_ && !self->flushing_) self->Read();
  });
}

void Connection::OnBytes(const char* data, size_t size) {
  while (!closed_ && !flushing_) {
    size_t used = 0;
    FrameReader::Status st = reader_.Feed(data, size, &used);
    DRAY_ASSERT(used <= size);
    data += used;
    size -= used;
    if (st == FrameReader::Status::kError) return Close(reader_.error());
    if (st == FrameReader::Status::kNeedMore) return;
    if (!OnFrame(reader_.Take())) return;
  }
}

bool Connection::OnFrame(WireFrame&& f) {
  if (f.kind == FrameKind::kHandshake) {
    if (open_) {
      Close("a handshake frame after the handshake");
      return false;
    }
    return OnHandshakeBody(f.frame.header);
  }
  if (!open_) {
    Close("a message frame before the handshake (unauthenticated)");
    return false;
  }
  if (f.kind == FrameKind::kControl) {
    host_.OnControl(id_, std::move(f.frame.header));
    return !closed_;
  }
  Message m;
  std::string error;
  size_t skip = 0;
  Route route;
  const bool routed = f.kind == FrameKind::kRouted || f.kind == FrameKind::kRoutedShm;
  if (f.kind == FrameKind::kRoutedShm && !host_.ResolveShm(id_, f.frame.attachments, &error)) {
    Close("refused shared-memory frame: " + error);
    return false;
  }
  if (routed) {
    const std::string& h = f.frame.header;
    if (h.size() < kRouteBytes) {
      Close("malformed routed frame: a header of " + std::to_string(h.size()) + " bytes has no route");
      return false;
    }
    route.from = Addr{GetU32(h.data()), GetU32(h.data() + 4)};
    route.to = Addr{GetU32(h.data() + 8), GetU32(h.data() + 12)};
    skip = kRouteBytes;
  }
  if (!DecodeFrame(f.frame.header.data() + skip, f.frame.header.size() - skip, f.frame.attachments, &m, &error)) {
    Close("malformed message frame: " + error);
    return false;
  }
  if (routed) host_.OnRouted(id_, route, std::move(m));
  else host_.OnMessage(id_, std::move(m));
  return !closed_;
}

bool Connection::OnHandshakeBody(const std::string& body) {
  HandshakeStep step = outbound_ ? client_->OnBody(body) : server_->OnBody(body);
  if (!step.send.empty()) Enqueue(FrameKind::kHandshake, Frame{std::move(step.send), {}});
  switch (step.status) {
    case HandshakeStep::kContinue:
      return true;
    case HandshakeStep::kFailed:
      CloseAfterFlush("handshake failed: " + step.error);
      return false;
    case HandshakeStep::kDone:
      open_ = true;
      timer_.cancel();
      reader_.set_limits(options_.limits);
      reader_.set_arena(options_.arena);
      host_.OnOpen(id_);
      return !closed_;
  }
  return false;
}

void Connection::Enqueue(FrameKind kind, Frame f) {
  DRAY_ASSERT(!closed_);
  queued_bytes_ += f.Bytes();
  std::string prefix = EncodeFramePrefix(kind, f);
  queue_.push_back(Out{std::move(prefix), std::move(f)});
  if (!writing_) WriteNext();
}

void Connection::WriteNext() {
  DRAY_ASSERT(!writing_);
  if (closed_) return;
  if (queue_.empty()) {
    if (flushing_) Close(flush_reason_);
    return;
  }
  writing_ = true;
  const Out& out = queue_.front();
  // The header, then the attachments, in one gathered write: no copy.
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(2 + out.frame.attachments.size());
  bufs.push_back(asio::buffer(out.prefix));
  bufs.push_back(asio::buffer(out.frame.header));
  for (const auto& a : out.frame.attachments)
    if (!a.empty()) bufs.push_back(asio::buffer(a.data(), a.size()));
  asio::async_write(socket_, bufs, [self = shared_from_this()](const error_code& ec, size_t) {
    self->writing_ = false;
    if (self->closed_) {
      self->queue_.clear();
      return;
    }
    if (ec) return self->Close("write failed: " + ec.message());
    DRAY_ASSERT(!self->queue_.empty());
    self->queued_bytes_ -= self->queue_.front().frame.Bytes();
    self->queue_.pop_front();
    self->WriteNext();
  });
}

}  // namespace dray::real
