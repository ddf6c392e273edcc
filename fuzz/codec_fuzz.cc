// libFuzzer target for the codec (issue 2, "Must show"): arbitrary bytes given
// to DecodeMessage, DecodeInput and DecodeEffect never crash and never throw;
// whatever decodes re-encodes to bytes that decode again and re-encode to the
// same bytes: encode(decode(encode(m))) == encode(m). A violation aborts.
//
// Built two ways (fuzz/CMakeLists.txt): with clang++ -fsanitize=fuzzer,...
// as a real libFuzzer binary, and with the project's compiler linked to
// fuzz/standalone_main.cc, which replays a seed corpus and deterministic
// mutations of it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/proto/codec.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "codec_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// One kind of value: decode the bytes; if they decode, check the round trip.
template <class T, class Enc, class Dec>
void Check(const char* kind, const uint8_t* data, size_t size, Enc encode, Dec decode) {
  const char* p = reinterpret_cast<const char*>(data);
  T first;
  std::string err;
  bool ok = false;
  try {
    ok = decode(p, size, &first, &err);
  } catch (const std::exception& e) {
    Fail(kind, std::string("decode threw: ") + e.what());
  } catch (...) {
    Fail(kind, "decode threw a non-standard exception");
  }
  if (!ok) {
    if (err.empty()) Fail(kind, "decode failed without naming an error");
    return;
  }
  // The input may be a non-canonical encoding (a wider integer, STR for BIN,
  // a short array filled with defaults): only its re-encoding must be stable.
  std::string e1 = encode(first);
  T second;
  err.clear();
  if (!decode(e1.data(), e1.size(), &second, &err)) Fail(kind, "a re-encoded value does not decode: " + err);
  std::string e2 = encode(second);
  if (e1 != e2) Fail(kind, "encode(decode(encode(m))) != encode(m)");
  if (first.index() != second.index()) Fail(kind, "the alternative changed in a round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check<dray::Message>("message", data, size, dray::EncodeMessage, dray::DecodeMessage);
  Check<dray::Input>("input", data, size, dray::EncodeInput, dray::DecodeInput);
  Check<dray::Effect>("effect", data, size, dray::EncodeEffect, dray::DecodeEffect);
  return 0;
}
