// Frames on a byte stream (DESIGN §5): every frame is a 16-byte prefix, a table
// of attachment sizes, the header, then the attachments (the codec's Frame,
// core/proto/codec.h). docs/protocol.md, "Wire framing", has the byte layout.
//
// FrameReader is I/O-free: it takes bytes as they arrive, split anywhere, and
// yields whole frames or one error naming what was wrong. It never allocates
// more than the limits allow, whatever sizes the bytes declare.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/proto/codec.h"

namespace dray::real {

inline constexpr char kWireMagic[4] = {'D', 'R', 'A', 'Y'};
inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kPrefixBytes = 16;

enum class FrameKind : uint8_t {
  kHandshake = 1,  // a handshake body (real/handshake.h) in the header, no attachments
  kMessage = 2,    // a Message: EncodeFrame's header and attachments
  kRouted = 3,     // a Message with its route: 16 bytes (from, to: Addr) then kMessage's header
  kControl = 4,    // a process host's own message (real/cluster.h: joining, status), no attachments
  // As kRouted, but every attachment is a 16-byte descriptor (u64 offset, u64
  // size, little-endian) of a range of the receiver's node's shared-memory
  // store (real/shm_store.h): a hub sends these to its own workers only.
  kRoutedShm = 5,
};
inline constexpr size_t kShmDescriptorBytes = 16;

struct FrameLimits {
  uint64_t max_frame_bytes = 512ull << 20;   // prefix, size table, header and attachments
  uint64_t max_header_bytes = 64ull << 20;   // the msgpack header alone
  uint32_t max_attachments = 1u << 16;
};
// Before the handshake is over a peer may send only small handshake frames,
// so that an unauthenticated peer costs at most a kilobyte.
inline constexpr FrameLimits kHandshakeLimits{.max_frame_bytes = 1024, .max_header_bytes = 512, .max_attachments = 0};

struct WireFrame {
  FrameKind kind = FrameKind::kMessage;
  Frame frame;
};

// The prefix and the size table of `f`, to be written before f.header and
// f.attachments. REQUIRES: the header and every attachment under 4 GiB.
std::string EncodeFramePrefix(FrameKind kind, const Frame& f);
// Prefix, header and attachments in one string (tests, small frames).
std::string EncodeWireFrame(FrameKind kind, const Frame& f);
// Whether a frame of this shape is within `limits`; otherwise *error says why.
bool FrameFits(const Frame& f, const FrameLimits& limits, std::string* error);

class FrameReader {
 public:
  enum class Status { kNeedMore, kFrame, kError };

  explicit FrameReader(const FrameLimits& limits = FrameLimits{}) : limits_(limits) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Applies to frames whose prefix has not been read yet.
  void set_limits(const FrameLimits& limits) { limits_ = limits; }
  // Attachments of internal::kArenaMinBytes or more are read into `arena`
  // (when it has room): a node's store (null: the heap).
  void set_arena(internal::ValueArena* arena) { arena_ = arena; }

  // Consumes bytes up to the end of at most one frame; *consumed says how
  // many. kFrame: Take() the frame, then feed the rest. kError: error() says
  // why, and every later call returns kError. REQUIRES: no frame left untaken.
  Status Feed(const char* data, size_t size, size_t* consumed);
  // REQUIRES: the last Feed returned kFrame.
  WireFrame Take();
  // The peer closed the stream: an error if it stopped inside a frame.
  Status Finish();

  const std::string& error() const { return error_; }
  bool in_frame() const { return stage_ != Stage::kPrefix || have_ > 0; }
  uint64_t frames_read() const { return frames_read_; }

 private:
  enum class Stage { kPrefix, kSizes, kHeader, kAttachments, kDone, kError };
  Status Fail(std::string why);
  bool ParsePrefix();
  bool ParseSizes();
  void StartAttachment();

  FrameLimits limits_;
  Stage stage_ = Stage::kPrefix;
  std::string error_;
  char prefix_[kPrefixBytes];
  size_t have_ = 0;  // bytes of the current piece (prefix, size table, header, attachment) received
  std::string sizes_;
  uint32_t header_bytes_ = 0;
  std::vector<uint32_t> attachment_bytes_;
  WireFrame out_;
  std::string piece_;  // the attachment being filled (on the heap)
  internal::ValueArena* arena_ = nullptr;
  char* piece_out_ = nullptr;  // ... or in the arena: its bytes so far are piece_have_
  Buf piece_owner_;
  size_t piece_have_ = 0;
  size_t attachment_ = 0;
  uint64_t frames_read_ = 0;
};

}  // namespace dray::real
