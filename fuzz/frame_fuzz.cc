// libFuzzer target for the frame reader (real/wire_frame.h): arbitrary bytes,
// fed whole and in pieces whose sizes the input itself decides, never crash,
// read the same frames and end in the same error; every frame read re-encodes
// to exactly the bytes it was read from; message frames go through
// DecodeFrame, which must fail with a named error or decode. A violation aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/proto/codec.h"
#include "real/wire_frame.h"

namespace {

using dray::real::FrameLimits;
using dray::real::FrameReader;
using dray::real::WireFrame;

[[noreturn]] void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "frame_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Result {
  std::vector<std::string> frames;  // each frame re-encoded
  std::string error;
};

// Reads `s` in pieces: whole when `step_seed` is 0, else sizes drawn from it.
Result Read(std::string_view s, const FrameLimits& limits, uint32_t step_seed) {
  FrameReader r(limits);
  Result out;
  size_t at = 0;
  uint32_t x = step_seed;
  while (at < s.size()) {
    size_t n = s.size() - at;
    if (step_seed != 0) {
      x = x * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (x >> 16) % 37);
    }
    std::string_view piece = s.substr(at, n);
    at += n;
    while (true) {
      size_t used = 0;
      FrameReader::Status st = r.Feed(piece.data(), piece.size(), &used);
      if (used > piece.size()) Fail("Feed consumed more than it was given");
      piece.remove_prefix(used);
      if (st == FrameReader::Status::kError) {
        if (r.error().empty()) Fail("an error without a reason");
        out.error = r.error();
        return out;
      }
      if (st == FrameReader::Status::kNeedMore) {
        if (!piece.empty()) Fail("kNeedMore with bytes left");
        break;
      }
      WireFrame f = r.Take();
      out.frames.push_back(dray::real::EncodeWireFrame(f.kind, f.frame));
      if (f.kind == dray::real::FrameKind::kMessage) {
        dray::Message m;
        std::string err;
        if (!dray::DecodeFrame(f.frame.header.data(), f.frame.header.size(), f.frame.attachments, &m, &err) &&
            err.empty())
          Fail("DecodeFrame failed without naming an error");
      }
    }
  }
  if (r.Finish() == FrameReader::Status::kError) out.error = r.error();
  return out;
}

void Check(std::string_view s, const FrameLimits& limits, uint32_t seed) {
  Result whole = Read(s, limits, 0);
  Result split = Read(s, limits, seed | 1);
  if (whole.frames != split.frames) Fail("the frames depend on how the bytes were split");
  if (whole.error != split.error) Fail("the error depends on how the bytes were split", whole.error + " / " + split.error);
  // The frames are the stream's prefix, byte for byte.
  size_t at = 0;
  for (const auto& f : whole.frames) {
    if (s.substr(at, f.size()) != f) Fail("a frame does not re-encode to the bytes it was read from");
    at += f.size();
  }
  if (whole.error.empty() && at != s.size()) Fail("bytes left over without an error");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  uint32_t seed = 0;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) seed = seed * 31 + data[i];
  Check(s, FrameLimits{}, seed);
  Check(s, FrameLimits{.max_frame_bytes = 4096, .max_header_bytes = 1024, .max_attachments = 3}, seed);
  Check(s, dray::real::kHandshakeLimits, seed);
  return 0;
}
