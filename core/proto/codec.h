// The one codec for messages, inputs and effects (msgpack). Decoding never
// throws and never crashes: bad bytes give an error naming what was wrong.
#pragma once
#include <optional>
#include <string>

#include "core/common/step.h"

namespace dray {

inline constexpr uint8_t kCodecVersion = 1;

std::string EncodeMessage(const Message& m);
// Returns false and sets *error on malformed input; never throws. On failure
// *out is valid but unspecified. Memory used while decoding is bounded by a
// small multiple of `size`, whatever sizes the bytes declare.
bool DecodeMessage(const char* data, size_t size, Message* out, std::string* error);

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
