// The one codec for messages, inputs and effects (msgpack). Decoding never
// throws and never crashes: bad bytes give an error naming what was wrong.
#pragma once
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "core/common/step.h"

namespace dray {

inline constexpr uint8_t kCodecVersion = 1;

// This thread's reused encoding buffer, emptied. Valid until the next call
// on this thread (every encode in this directory uses it).
msgpack::sbuffer& ScratchBuffer();

std::string EncodeMessage(const Message& m);
// Returns false and sets *error on malformed input; never throws. On failure
// *out is valid but unspecified. Memory used while decoding is bounded by a
// small multiple of `size`, whatever sizes the bytes declare.
bool DecodeMessage(const char* data, size_t size, Message* out, std::string* error);

// A message as it travels between processes: its header (EncodeMessage's
// format) in which every payload (Buf) of kAttachMinBytes or more is replaced
// by a reference to an attachment carried beside it. The sim shares the
// attachments between sender and receiver (they are immutable); the real
// backend writes them after the header. So a large value is not copied into
// and out of every message it rides in.
struct Frame {
  std::string header;
  std::vector<Buf> attachments;
  size_t Bytes() const;  // header and attachments
};
Frame EncodeFrame(const Message& m);
// As DecodeMessage; every attachment must be referred to exactly once.
bool DecodeFrame(const char* header, size_t size, const std::vector<Buf>& attachments,
                 Message* out, std::string* error);

std::string EncodeInput(const Input& in);
bool DecodeInput(const char* data, size_t size, Input* out, std::string* error);
std::string EncodeEffect(const Effect& e);
bool DecodeEffect(const char* data, size_t size, Effect* out, std::string* error);

template <class T>
std::string Pack(const T& v) {
  msgpack::sbuffer sb;
  msgpack::pack(sb, v);
  return std::string(sb.data(), sb.size());
}
// Unpacks or returns false; never throws.
template <class T>
bool Unpack(const char* data, size_t size, T* out, std::string* error) {
  try {
    msgpack::object_handle oh = msgpack::unpack(data, size);
    oh.get().convert(*out);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
}

}  // namespace dray
