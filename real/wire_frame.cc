#include "real/wire_frame.h"

#include <algorithm>
#include <cstring>

#include "core/common/assert.h"

namespace dray::real {
namespace {

constexpr size_t kReserveMaxBytes = 64 * 1024;

void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

// The first bytes of something that is not a dray frame, for the log line:
// hex, as text, and a guess at what spoke to us.
std::string DescribeForeign(const char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string hex, text;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
    text += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  }
  std::string s = "0x" + hex + " '" + text + "'";
  std::string_view head(p, n);
  for (const char* verb : {"GET ", "POST", "PUT ", "HEAD", "HTTP", "DELE", "OPTI", "PATC", "CONN", "PRI "})
    if (head.substr(0, 4) == verb) return s + " (an HTTP request? this port speaks dray's own protocol)";
  if (n >= 2 && static_cast<unsigned char>(p[0]) == 0x16 && p[1] == 0x03) return s + " (a TLS handshake? dray does not speak TLS)";
  return s;
}

}  // namespace

std::string EncodeFramePrefix(FrameKind kind, const Frame& f) {
  DRAY_ASSERT(f.header.size() <= UINT32_MAX, "a frame header of 4 GiB or more");
  DRAY_ASSERT(f.attachments.size() <= UINT32_MAX);
  std::string s(kWireMagic, sizeof kWireMagic);
  s.push_back(static_cast<char>(kWireVersion));
  s.push_back(static_cast<char>(kind));
  s.push_back(0);
  s.push_back(0);
  PutU32(&s, static_cast<uint32_t>(f.header.size()));
  PutU32(&s, static_cast<uint32_t>(f.attachments.size()));
  for (const auto& a : f.attachments) {
    size_t n = a.size();
    DRAY_ASSERT(n <= UINT32_MAX, "an attachment of 4 GiB or more");
    PutU32(&s, static_cast<uint32_t>(n));
  }
  DRAY_ASSERT(s.size() == kPrefixBytes + 4 * f.attachments.size());
  return s;
}

std::string EncodeWireFrame(FrameKind kind, const Frame& f) {
  std::string s = EncodeFramePrefix(kind, f);
  s += f.header;
  for (const auto& a : f.attachments) s += a.view();
  return s;
}

bool FrameFits(const Frame& f, const FrameLimits& limits, std::string* error) {
  uint64_t total = kPrefixBytes + 4ull * f.attachments.size() + f.Bytes();
  if (f.header.size() > limits.max_header_bytes) {
    *error = "a frame header of " + std::to_string(f.header.size()) + " bytes is over the limit of " +
             std::to_string(limits.max_header_bytes);
  } else if (f.attachments.size() > limits.max_attachments) {
    *error = "a frame of " + std::to_string(f.attachments.size()) + " attachments is over the limit of " +
             std::to_string(limits.max_attachments);
  } else if (total > limits.max_frame_bytes) {
    *error = "a frame of " + std::to_string(total) + " bytes is over the limit of " +
             std::to_string(limits.max_frame_bytes);
  } else {
    for (const auto& a : f.attachments)
      if (a.size() > UINT32_MAX) {
        *error = "an attachment of 4 GiB or more";
        return false;
      }
    return true;
  }
  return false;
}

FrameReader::Status FrameReader::Fail(std::string why) {
  stage_ = Stage::kError;
  error_ = std::move(why);
  return Status::kError;
}

bool FrameReader::ParsePrefix() {
  const char* p = prefix_;
  if (std::memcmp(p, kWireMagic, sizeof kWireMagic) != 0) {
    Fail("bad magic " + DescribeForeign(p, 4) + ", expected 'DRAY'");
    return false;
  }
  auto version = static_cast<uint8_t>(p[4]);
  if (version != kWireVersion) {
    Fail("wire version " + std::to_string(version) + ", this build speaks version " + std::to_string(kWireVersion) +
         " (a dray of another release?)");
    return false;
  }
  auto kind = static_cast<uint8_t>(p[5]);
  if (kind != static_cast<uint8_t>(FrameKind::kHandshake) && kind != static_cast<uint8_t>(FrameKind::kMessage) &&
      kind != static_cast<uint8_t>(FrameKind::kRouted) && kind != static_cast<uint8_t>(FrameKind::kControl) &&
      kind != static_cast<uint8_t>(FrameKind::kRoutedShm)) {
    Fail("unknown frame kind " + std::to_string(kind));
    return false;
  }
  if (p[6] != 0 || p[7] != 0) {
    Fail("reserved prefix bytes 6-7 are not zero");
    return false;
  }
  header_bytes_ = GetU32(p + 8);
  uint32_t count = GetU32(p + 12);
  out_ = WireFrame{};
  out_.kind = static_cast<FrameKind>(kind);
  if ((out_.kind == FrameKind::kHandshake || out_.kind == FrameKind::kControl) && count != 0) {
    Fail(std::string(out_.kind == FrameKind::kHandshake ? "a handshake" : "a control") + " frame with " +
         std::to_string(count) + " attachments (it takes none)");
    return false;
  }
  if (header_bytes_ > limits_.max_header_bytes) {
    Fail("oversized frame: a header of " + std::to_string(header_bytes_) + " bytes is over the limit of " +
         std::to_string(limits_.max_header_bytes));
    return false;
  }
  if (count > limits_.max_attachments) {
    Fail("oversized frame: " + std::to_string(count) + " attachments, over the limit of " +
         std::to_string(limits_.max_attachments));
    return false;
  }
  uint64_t known = kPrefixBytes + 4ull * count + header_bytes_;
  if (known > limits_.max_frame_bytes) {
    Fail("oversized frame: at least " + std::to_string(known) + " bytes, over the limit of " +
         std::to_string(limits_.max_frame_bytes));
    return false;
  }
  attachment_bytes_.assign(count, 0);
  sizes_.clear();
  // Memory follows the bytes that arrive, not the sizes declared.
  out_.frame.header.reserve(std::min<size_t>(header_bytes_, kReserveMaxBytes));
  stage_ = count > 0 ? Stage::kSizes : Stage::kHeader;
  have_ = 0;
  return true;
}

bool FrameReader::ParseSizes() {
  DRAY_ASSERT(sizes_.size() == 4 * attachment_bytes_.size());
  uint64_t total = kPrefixBytes + sizes_.size() + header_bytes_;
  for (size_t i = 0; i < attachment_bytes_.size(); ++i) {
    attachment_bytes_[i] = GetU32(sizes_.data() + 4 * i);
    total += attachment_bytes_[i];  // at most 2^32 sizes below 2^32: no overflow
  }
  if (total > limits_.max_frame_bytes) {
    Fail("oversized frame: " + std::to_string(total) + " bytes, over the limit of " +
         std::to_string(limits_.max_frame_bytes));
    return false;
  }
  out_.frame.attachments.reserve(attachment_bytes_.size());
  stage_ = Stage::kHeader;
  have_ = 0;
  return true;
}

void FrameReader::StartAttachment() {
  piece_.clear();
  piece_out_ = nullptr;
  piece_owner_ = Buf();
  piece_have_ = 0;
  size_t n = attachment_bytes_[attachment_];
  if (!(arena_ && n >= internal::kArenaMinBytes && arena_->Allocate(n, &piece_out_, &piece_owner_))) {
    piece_out_ = nullptr;
    piece_.reserve(std::min<size_t>(n, kReserveMaxBytes));
  }
  stage_ = Stage::kAttachments;
}

FrameReader::Status FrameReader::Feed(const char* data, size_t size, size_t* consumed) {
  DRAY_ASSERT(stage_ != Stage::kDone, "FrameReader::Feed before the last frame was taken");
  size_t off = 0;
  *consumed = 0;
  for (;;) {
    size_t left = size - off;
    switch (stage_) {
      case Stage::kError:
        return Status::kError;
      case Stage::kDone:
        *consumed = off;
        ++frames_read_;
        return Status::kFrame;
      case Stage::kPrefix: {
        size_t n = std::min(kPrefixBytes - have_, left);
        if (n > 0) std::memcpy(prefix_ + have_, data + off, n);  // data may be null when size is 0
        have_ += n;
        off += n;
        *consumed = off;
        if (have_ < kPrefixBytes) return Status::kNeedMore;
        if (!ParsePrefix()) return Status::kError;
        break;
      }
      case Stage::kSizes: {
        size_t n = std::min(4 * attachment_bytes_.size() - sizes_.size(), left);
        sizes_.append(data + off, n);
        off += n;
        *consumed = off;
        if (sizes_.size() < 4 * attachment_bytes_.size()) return Status::kNeedMore;
        if (!ParseSizes()) return Status::kError;
        break;
      }
      case Stage::kHeader: {
        std::string& h = out_.frame.header;
        size_t n = std::min<size_t>(header_bytes_ - h.size(), left);
        h.append(data + off, n);
        off += n;
        *consumed = off;
        if (h.size() < header_bytes_) return Status::kNeedMore;
        attachment_ = 0;
        if (attachment_bytes_.empty()) {
          stage_ = Stage::kDone;
        } else {
          StartAttachment();
        }
        break;
      }
      case Stage::kAttachments: {
        size_t n = std::min<size_t>(attachment_bytes_[attachment_] - piece_have_, left);
        if (piece_out_) std::memcpy(piece_out_ + piece_have_, data + off, n);
        else piece_.append(data + off, n);
        piece_have_ += n;
        off += n;
        *consumed = off;
        if (piece_have_ < attachment_bytes_[attachment_]) return Status::kNeedMore;
        out_.frame.attachments.push_back(piece_out_ ? std::move(piece_owner_) : Buf(std::move(piece_)));
        piece_out_ = nullptr;
        if (++attachment_ == attachment_bytes_.size()) {
          stage_ = Stage::kDone;
        } else {
          StartAttachment();
        }
        break;
      }
    }
  }
}

WireFrame FrameReader::Take() {
  DRAY_ASSERT(stage_ == Stage::kDone, "FrameReader::Take without a complete frame");
  DRAY_ASSERT(out_.frame.header.size() == header_bytes_);
  DRAY_ASSERT(out_.frame.attachments.size() == attachment_bytes_.size());
  WireFrame f = std::move(out_);
  out_ = WireFrame{};
  stage_ = Stage::kPrefix;
  have_ = 0;
  return f;
}

FrameReader::Status FrameReader::Finish() {
  if (stage_ == Stage::kError) return Status::kError;
  DRAY_ASSERT(stage_ != Stage::kDone, "FrameReader::Finish before the last frame was taken");
  if (!in_frame()) return Status::kNeedMore;
  std::string where;
  switch (stage_) {
    case Stage::kPrefix:
      where = std::to_string(have_) + " of the " + std::to_string(kPrefixBytes) + " prefix bytes";
      break;
    case Stage::kSizes:
      where = std::to_string(sizes_.size()) + " of " + std::to_string(4 * attachment_bytes_.size()) +
              " attachment-size bytes";
      break;
    case Stage::kHeader:
      where = std::to_string(out_.frame.header.size()) + " of " + std::to_string(header_bytes_) + " header bytes";
      break;
    case Stage::kAttachments:
      where = std::to_string(piece_.size()) + " of " + std::to_string(attachment_bytes_[attachment_]) +
              " bytes of attachment " + std::to_string(attachment_) + " of " + std::to_string(attachment_bytes_.size());
      break;
    default:
      break;
  }
  return Fail("truncated frame: the peer closed the stream after " + where);
}

}  // namespace dray::real
