#include "core/proto/codec.h"


namespace dray {

namespace {
// One reused buffer per thread: a fresh sbuffer allocates 8 KiB per encode.
msgpack::sbuffer& ScratchBuffer() {
  thread_local msgpack::sbuffer sb(4096);
  sb.clear();
  return sb;
}

template <class T>
std::string EncodeVersioned(const T& v) {
  msgpack::sbuffer& sb = ScratchBuffer();
  sb.write(reinterpret_cast<const char*>(&kCodecVersion), 1);
  msgpack::pack(sb, v);
  return std::string(sb.data(), sb.size());
}

// Limits keep a hostile frame from allocating without bound.
msgpack::unpack_limit Limits() { return msgpack::unpack_limit(1u << 20, 1u << 16, 1u << 30, 1u << 30, 1u << 20, 64); }

template <class T>
bool DecodeVersioned(const char* data, size_t size, T* out, std::string* error, const char* what) {
  if (size < 1) { *error = std::string(what) + ": empty buffer"; return false; }
  if (static_cast<uint8_t>(data[0]) != kCodecVersion) {
    *error = std::string(what) + ": codec version " + std::to_string(static_cast<uint8_t>(data[0])) +
             ", expected " + std::to_string(kCodecVersion);
    return false;
  }
  try {
    size_t off = 1;
    msgpack::object_handle oh = msgpack::unpack(data, size, off, nullptr, nullptr, Limits());
    if (off != size) { *error = std::string(what) + ": " + std::to_string(size - off) + " trailing bytes"; return false; }
    oh.get().convert(*out);
    return true;
  } catch (const std::exception& e) {
    *error = std::string(what) + ": malformed (" + e.what() + ")";
    return false;
  }
}
}  // namespace

std::string EncodeMessage(const Message& m) { return EncodeVersioned(m); }
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
    "RemoveBorrower", "ReturnRefsAck", "WorkerOwnership"};
static_assert(sizeof(kMessageNames) / sizeof(kMessageNames[0]) == std::variant_size_v<Message>);

const char* MessageName(size_t index) {
  return index < std::variant_size_v<Message> ? kMessageNames[index] : "Unknown";
}
const char* MessageName(const Message& m) { return MessageName(m.index()); }

}  // namespace dray
