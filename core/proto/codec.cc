#include "core/proto/codec.h"

#include <algorithm>

namespace dray {

// One reused buffer per thread: a fresh sbuffer allocates 8 KiB per encode.
msgpack::sbuffer& ScratchBuffer() {
  thread_local msgpack::sbuffer sb(4096);
  sb.clear();
  return sb;
}

namespace {

template <class T>
std::string EncodeVersioned(const T& v) {
  msgpack::sbuffer& sb = ScratchBuffer();
  sb.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::pack(sb, v);
  return std::string(sb.data(), sb.size());
}

// What one frame of `size` bytes may declare. Every array element takes at
// least one byte and every map entry two, so no valid frame exceeds these.
msgpack::unpack_limit Limits(size_t size) {
  const size_t most = std::min<size_t>(size, 1u << 30);
  return msgpack::unpack_limit(std::min<size_t>(most, 1u << 20), std::min<size_t>(most / 2, 1u << 16), most, most,
                               most, 64);
}

// STR/BIN/EXT bodies are referenced in the input, not copied into the zone:
// the object tree never outlives DecodeVersioned, which converts it at once.
bool ReferenceBodies(msgpack::type::object_type, std::size_t, void*) { return true; }

// msgpack's own tree builder (msgpack-c's create_object_visitor and
// parse_helper, which msgpack::unpack uses internally), reused across calls
// and with one more bound: containers draw on a budget of the frame's bytes,
// so the elements of all arrays together (two per map entry) may not exceed
// the bytes after the version byte. msgpack allocates a container's elements
// when it reads the header; without the budget, nested headers that each
// claim many elements would reserve far more memory than the frame could
// fill. With it the zone stays under about 24 bytes per frame byte.
class FrameVisitor : public msgpack::detail::create_object_visitor {
 public:
  FrameVisitor() : create_object_visitor(&ReferenceBodies, nullptr, msgpack::unpack_limit()) {}
  void Reset(msgpack::zone& zone, size_t size) {
    init();
    set_zone(zone);
    set_referenced(false);
    m_limit = Limits(size);
    budget_ = size;
  }
  bool start_array(uint32_t n) {
    if (n > budget_) throw msgpack::array_size_overflow("array of " + std::to_string(n) + " elements in " +
                                                       std::to_string(budget_) + " bytes");
    budget_ -= n;
    return create_object_visitor::start_array(n);
  }
  bool start_map(uint32_t n) {
    if (n > budget_ / 2) throw msgpack::map_size_overflow("map of " + std::to_string(n) + " entries in " +
                                                          std::to_string(budget_) + " bytes");
    budget_ -= 2 * size_t{n};
    return create_object_visitor::start_map(n);
  }

 private:
  size_t budget_ = 0;
};

// One per thread, reused: the zone keeps its first 8 KiB chunk and the parse
// stacks their capacity, so decoding a typical message allocates only what
// the decoded value itself owns.
struct FrameDecoder {
  msgpack::zone zone;
  FrameVisitor visitor;
  msgpack::detail::parse_helper<FrameVisitor> parser{visitor};
};

template <class T>
bool DecodeVersioned(const char* data, size_t size, T* out, std::string* error, const char* what) {
  if (size < 1) { *error = std::string(what) + ": empty buffer"; return false; }
  if (static_cast<uint8_t>(data[0]) != kCodecVersion) {
    *error = std::string(what) + ": codec version " + std::to_string(static_cast<uint8_t>(data[0])) +
             ", expected " + std::to_string(kCodecVersion);
    return false;
  }
  thread_local FrameDecoder d;
  struct ClearZone {  // frees any chunks beyond the first, also after a throw
    msgpack::zone& z;
    ~ClearZone() { z.clear(); }
  } clear_zone{d.zone};
  try {
    size_t off = 1;
    d.parser.init();
    d.visitor.Reset(d.zone, size - off);
    if (size <= off) throw msgpack::insufficient_bytes("insufficient bytes");
    switch (d.parser.execute(data, size, off)) {
      case msgpack::PARSE_SUCCESS: break;
      case msgpack::PARSE_CONTINUE: throw msgpack::insufficient_bytes("insufficient bytes");
      default: throw msgpack::parse_error("parse error");
    }
    if (off != size) { *error = std::string(what) + ": " + std::to_string(size - off) + " trailing bytes"; return false; }
    d.visitor.data().convert(*out);
    return true;
  } catch (const std::exception& e) {
    *error = std::string(what) + ": malformed (" + e.what() + ")";
    return false;
  }
}
}  // namespace

std::string EncodeMessage(const Message& m) { return EncodeVersioned(m); }

size_t Frame::Bytes() const {
  size_t n = header.size();
  for (const auto& a : attachments) n += a.size();
  return n;
}

Frame EncodeFrame(const Message& m) {
  Frame f;
  internal::FrameSink sink;
  internal::tls_frame_sink = &sink;
  struct Reset {
    ~Reset() { internal::tls_frame_sink = nullptr; }
  } reset;
  f.header = EncodeVersioned(m);
  f.attachments = std::move(sink.attachments);
  return f;
}

bool DecodeFrame(const char* header, size_t size, const std::vector<Buf>& attachments,
                 Message* out, std::string* error) {
  internal::FrameSource src;
  src.attachments = &attachments;
  src.used.assign(attachments.size(), 0);
  internal::tls_frame_source = &src;
  struct Reset {
    ~Reset() { internal::tls_frame_source = nullptr; }
  } reset;
  if (!DecodeVersioned(header, size, out, error, "message")) return false;
  for (size_t i = 0; i < src.used.size(); ++i) {
    if (!src.used[i]) {
      *error = "message: attachment " + std::to_string(i) + " of " + std::to_string(attachments.size()) +
               " is not referred to by the header";
      return false;
    }
  }
  return true;
}

namespace internal {
Buf TakeAttachment(const msgpack::object& o) {
  struct BadAttachment : msgpack::type_error {
    std::string why;
    explicit BadAttachment(std::string w) : why(std::move(w)) {}
    const char* what() const noexcept override { return why.c_str(); }
  };
  if (o.via.ext.type() != kAttachmentExt || o.via.ext.size != 4)
    throw BadAttachment("an ext value of type " + std::to_string(o.via.ext.type()) + " and " +
                        std::to_string(o.via.ext.size) + " bytes where a payload belongs");
  FrameSource* src = tls_frame_source;
  if (!src) throw BadAttachment("an attachment reference outside a frame");
  const auto* d = reinterpret_cast<const unsigned char*>(o.via.ext.data());
  uint32_t index = d[0] | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16) | (uint32_t{d[3]} << 24);
  if (index >= src->attachments->size())
    throw BadAttachment("attachment " + std::to_string(index) + " of " + std::to_string(src->attachments->size()));
  if (src->used[index]) throw BadAttachment("attachment " + std::to_string(index) + " referred to twice");
  src->used[index] = 1;
  return (*src->attachments)[index];
}
}  // namespace internal
bool DecodeMessage(const char* data, size_t size, Message* out, std::string* error) {
  return DecodeVersioned(data, size, out, error, "message");
}
std::string EncodeInput(const Input& in) { return EncodeVersioned(in); }
bool DecodeInput(const char* data, size_t size, Input* out, std::string* error) {
  return DecodeVersioned(data, size, out, error, "input");
}
std::string EncodeEffect(const Effect& e) { return EncodeVersioned(e); }
bool DecodeEffect(const char* data, size_t size, Effect* out, std::string* error) {
  return DecodeVersioned(data, size, out, error, "effect");
}

static const char* const kMessageNames[] = {
    "RegisterNode", "ResourceReport", "ClusterView", "RegisterJob", "JobRegistered",
    "SubmitTask", "ExecuteTask", "TaskDone", "TaskFinished", "RegisterWorker",
    "WorkerBlocked", "WorkerUnblocked", "ResumeGrant", "PutObject", "FetchObject",
    "ObjectReady", "PullObject", "ObjectChunk", "FreeObjects", "AddObjectLocation",
    "GetObjectStatus", "ObjectStatus", "AddBorrower", "AddBorrowerAck",
    "RemoveBorrower", "ReturnRefsAck", "WorkerOwnership", "WorkerDied", "TaskFailed", "Deaths", "HealthCheck",
    "HealthCheckAck", "TaskPlaced", "RegisterActor", "ActorRegistered", "GetActorInfo", "ActorInfo",
    "KillActor", "StopActor", "RenewLease", "LeaseGranted", "ObjectRestored", "RemoveObjectLocation"};
static_assert(sizeof(kMessageNames) / sizeof(kMessageNames[0]) == std::variant_size_v<Message>);

const char* MessageName(size_t index) {
  return index < std::variant_size_v<Message> ? kMessageNames[index] : "Unknown";
}
const char* MessageName(const Message& m) { return MessageName(m.index()); }

}  // namespace dray
