// The frame reader (real/wire_frame.h): every split of a valid stream reads
// the same frames; every kind of bad input gives one error naming it.
#include "real/wire_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/common/prng.h"
#include "core/proto/codec.h"

namespace dray::real {
namespace {

Message BigChunk(size_t bytes, char fill) {
  ObjectChunk c;
  c.id = ObjectId{42, 1};
  c.found = true;
  c.num_chunks = 1;
  c.size = bytes;
  c.data = Buf(std::string(bytes, fill));
  return c;
}

// A handshake frame, a small message, a message with one attachment.
std::vector<WireFrame> SampleFrames() {
  std::vector<WireFrame> v;
  v.push_back({FrameKind::kHandshake, Frame{std::string("\x01\x01hello", 7), {}}});
  v.push_back({FrameKind::kMessage, EncodeFrame(Message{HealthCheck{7}})});
  v.push_back({FrameKind::kMessage, EncodeFrame(BigChunk(kAttachMinBytes + 100, 'x'))});
  EXPECT_EQ(v[2].frame.attachments.size(), 1u);
  return v;
}

std::string Stream(const std::vector<WireFrame>& frames) {
  std::string s;
  for (const auto& f : frames) s += EncodeWireFrame(f.kind, f.frame);
  return s;
}

// Feeds `pieces` in order, collecting frames; returns the error or "".
std::string ReadAll(FrameReader& r, const std::vector<std::string_view>& pieces, std::vector<WireFrame>* out) {
  for (std::string_view p : pieces) {
    while (true) {
      size_t used = 0;
      auto st = r.Feed(p.data(), p.size(), &used);
      EXPECT_LE(used, p.size());
      p.remove_prefix(used);
      if (st == FrameReader::Status::kError) return r.error();
      if (st == FrameReader::Status::kFrame) {
        out->push_back(r.Take());
        continue;
      }
      EXPECT_TRUE(p.empty()) << "kNeedMore with bytes left";
      break;
    }
  }
  if (r.Finish() == FrameReader::Status::kError) return r.error();
  return "";
}

void ExpectSame(const std::vector<WireFrame>& want, const std::vector<WireFrame>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].kind, got[i].kind);
    EXPECT_EQ(want[i].frame.header, got[i].frame.header);
    ASSERT_EQ(want[i].frame.attachments.size(), got[i].frame.attachments.size());
    for (size_t k = 0; k < want[i].frame.attachments.size(); ++k)
      EXPECT_EQ(want[i].frame.attachments[k], got[i].frame.attachments[k]);
  }
}

TEST(WireFrame, PrefixLayout) {
  Frame f{"abc", {Buf(std::string(5, 'z'))}};
  std::string p = EncodeFramePrefix(FrameKind::kMessage, f);
  EXPECT_EQ(p, std::string("DRAY\x01\x02\0\0\x03\0\0\0\x01\0\0\0\x05\0\0\0", 20));
}

TEST(WireFrame, EverySplitPointReadsTheSameFrames) {
  auto frames = SampleFrames();
  std::string s = Stream(frames);
  ASSERT_GT(s.size(), kAttachMinBytes);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    FrameReader r;
    std::vector<WireFrame> got;
    std::string_view v(s);
    ASSERT_EQ(ReadAll(r, {v.substr(0, cut), v.substr(cut)}, &got), "") << "cut at " << cut;
    ExpectSame(frames, got);
  }
}

TEST(WireFrame, ByteByByteAndRandomPieces) {
  auto frames = SampleFrames();
  std::string s = Stream(frames);
  {
    FrameReader r;
    std::vector<std::string_view> pieces;
    for (size_t i = 0; i < s.size(); ++i) pieces.push_back(std::string_view(s).substr(i, 1));
    std::vector<WireFrame> got;
    ASSERT_EQ(ReadAll(r, pieces, &got), "");
    ExpectSame(frames, got);
    EXPECT_EQ(r.frames_read(), frames.size());
  }
  Prng rng(5);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> pieces;
    for (size_t at = 0; at < s.size();) {
      size_t n = std::min<size_t>(s.size() - at, rng.Below(3) == 0 ? rng.Below(8) : rng.Below(6000));
      pieces.push_back(std::string_view(s).substr(at, n));
      at += n;
    }
    FrameReader r;
    std::vector<WireFrame> got;
    ASSERT_EQ(ReadAll(r, pieces, &got), "");
    ExpectSame(frames, got);
  }
}

TEST(WireFrame, DecodesBackToTheMessage) {
  Message m = BigChunk(kAttachMinBytes * 2, 'q');
  std::string s = EncodeWireFrame(FrameKind::kMessage, EncodeFrame(m));
  FrameReader r;
  std::vector<WireFrame> got;
  ASSERT_EQ(ReadAll(r, {s}, &got), "");
  ASSERT_EQ(got.size(), 1u);
  Message back;
  std::string err;
  ASSERT_TRUE(DecodeFrame(got[0].frame.header.data(), got[0].frame.header.size(), got[0].frame.attachments, &back,
                          &err))
      << err;
  EXPECT_EQ(EncodeMessage(back), EncodeMessage(m));
}

TEST(WireFrame, EmptyStreamAndEmptyFeedsAreFine) {
  FrameReader r;
  size_t used = 7;
  EXPECT_EQ(r.Feed(nullptr, 0, &used), FrameReader::Status::kNeedMore);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(r.Finish(), FrameReader::Status::kNeedMore);
  EXPECT_FALSE(r.in_frame());
}

// The error for `bytes`, fed whole and byte by byte (they must agree).
std::string ErrorOf(const std::string& bytes, const FrameLimits& limits = FrameLimits{}) {
  std::vector<WireFrame> got;
  FrameReader whole(limits);
  std::string e1 = ReadAll(whole, {bytes}, &got);
  FrameReader bytewise(limits);
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < bytes.size(); ++i) pieces.push_back(std::string_view(bytes).substr(i, 1));
  got.clear();
  std::string e2 = ReadAll(bytewise, pieces, &got);
  EXPECT_EQ(e1, e2);
  return e1;
}

std::string Prefix(uint8_t version, uint8_t kind, uint32_t header, uint32_t count, char reserved = 0) {
  std::string s("DRAY", 4);
  s += static_cast<char>(version);
  s += static_cast<char>(kind);
  s += reserved;
  s += '\0';
  for (uint32_t v : {header, count})
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

TEST(WireFrame, HttpRequestIsBadMagicNamingHttp) {
  std::string e = ErrorOf("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_NE(e.find("bad magic"), std::string::npos) << e;
  EXPECT_NE(e.find("'GET '"), std::string::npos) << e;
  EXPECT_NE(e.find("HTTP request"), std::string::npos) << e;
}

TEST(WireFrame, RandomBytesAreBadMagic) {
  std::string e = ErrorOf(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\xcc\xdd\xee\x01", 17));
  EXPECT_NE(e.find("bad magic 0x16030102"), std::string::npos) << e;
  EXPECT_NE(e.find("TLS"), std::string::npos) << e;
}

TEST(WireFrame, WrongVersionKindOrReservedBytes) {
  EXPECT_NE(ErrorOf(Prefix(2, 2, 0, 0)).find("wire version 2, this build speaks version 1"), std::string::npos);
  EXPECT_NE(ErrorOf(Prefix(1, 9, 0, 0)).find("unknown frame kind 9"), std::string::npos);
  EXPECT_NE(ErrorOf(Prefix(1, 2, 0, 0, 1)).find("reserved"), std::string::npos);
  EXPECT_NE(ErrorOf(Prefix(1, 1, 2, 1)).find("a handshake frame with 1 attachments"), std::string::npos);
  EXPECT_NE(ErrorOf(Prefix(1, 4, 2, 1)).find("a control frame with 1 attachments"), std::string::npos);
}

TEST(WireFrame, ControlFramesCarryTheirBody) {
  std::string bytes = EncodeWireFrame(FrameKind::kControl, Frame{"hello control", {}});
  std::vector<WireFrame> got;
  FrameReader r;
  EXPECT_EQ(ReadAll(r, {bytes}, &got), "");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, FrameKind::kControl);
  EXPECT_EQ(got[0].frame.header, "hello control");
}

TEST(WireFrame, OversizedFramesAreRefusedBeforeTheirBytesArrive) {
  FrameLimits small{.max_frame_bytes = 1000, .max_header_bytes = 500, .max_attachments = 4};
  EXPECT_NE(ErrorOf(Prefix(1, 2, 501, 0), small).find("oversized frame: a header of 501 bytes"), std::string::npos);
  EXPECT_NE(ErrorOf(Prefix(1, 2, 10, 5), small).find("oversized frame: 5 attachments"), std::string::npos);
  // The default limits: a 4 GiB length is refused at once.
  EXPECT_NE(ErrorOf(Prefix(1, 2, 0xffffffffu, 0)).find("oversized frame"), std::string::npos);
  // Attachment sizes that add up to more than the frame limit.
  std::string s = Prefix(1, 2, 10, 2) + std::string("\xf0\x01\0\0\xf0\x01\0\0", 8);  // 16 + 8 + 10 + 2 x 496
  std::string e = ErrorOf(s, small);
  EXPECT_NE(e.find("oversized frame: 1026 bytes, over the limit of 1000"), std::string::npos) << e;
  // Exactly at the limit is fine.
  Frame f{std::string(500, 'h'), {Buf(std::string(500 - 16 - 4, 'a'))}};
  std::string ok = EncodeWireFrame(FrameKind::kMessage, f);
  EXPECT_EQ(ok.size(), 1000u);
  EXPECT_EQ(ErrorOf(ok, small), "");
  std::string why;
  EXPECT_TRUE(FrameFits(f, small, &why));
  f.header += 'h';
  EXPECT_FALSE(FrameFits(f, small, &why));
  EXPECT_NE(why.find("501 bytes"), std::string::npos) << why;
}

TEST(WireFrame, HandshakeLimitsBeforeAuthentication) {
  Frame f = EncodeFrame(Message{HealthCheck{1}});
  f.header.resize(600, 'p');
  std::string e = ErrorOf(EncodeWireFrame(FrameKind::kMessage, f), kHandshakeLimits);
  EXPECT_NE(e.find("oversized frame: a header of 600 bytes is over the limit of 512"), std::string::npos) << e;
}

TEST(WireFrame, TruncatedAtCloseSaysWhere) {
  auto frames = SampleFrames();
  std::string big = EncodeWireFrame(frames[2].kind, frames[2].frame);
  EXPECT_NE(ErrorOf(big.substr(0, 5)).find("after 5 of the 16 prefix bytes"), std::string::npos);
  EXPECT_NE(ErrorOf(big.substr(0, 18)).find("after 2 of 4 attachment-size bytes"), std::string::npos);
  std::string e = ErrorOf(big.substr(0, 20 + 3));
  EXPECT_NE(e.find("truncated frame: the peer closed the stream after 3 of"), std::string::npos) << e;
  EXPECT_NE(e.find("header bytes"), std::string::npos) << e;
  e = ErrorOf(big.substr(0, big.size() - 1));
  EXPECT_NE(e.find("of attachment 0 of 1"), std::string::npos) << e;
  // A whole frame then a clean close is no error.
  EXPECT_EQ(ErrorOf(big), "");
}

TEST(WireFrame, ErrorsAreSticky) {
  FrameReader r;
  size_t used = 0;
  std::string bad = "HTTP/1.1 200 OK\r\n";
  EXPECT_EQ(r.Feed(bad.data(), bad.size(), &used), FrameReader::Status::kError);
  EXPECT_EQ(used, kPrefixBytes);
  std::string good = EncodeWireFrame(FrameKind::kMessage, EncodeFrame(Message{HealthCheck{1}}));
  EXPECT_EQ(r.Feed(good.data(), good.size(), &used), FrameReader::Status::kError);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(r.Finish(), FrameReader::Status::kError);
  EXPECT_NE(r.error().find("bad magic"), std::string::npos);
}

TEST(WireFrame, MalformedMsgpackIsFramedButDoesNotDecode) {
  // The reader only frames; the codec names what is wrong with the header.
  Frame f{std::string("\x01\xc1\xc1", 3), {}};
  FrameReader r;
  std::vector<WireFrame> got;
  ASSERT_EQ(ReadAll(r, {EncodeWireFrame(FrameKind::kMessage, f)}, &got), "");
  ASSERT_EQ(got.size(), 1u);
  Message m;
  std::string err;
  EXPECT_FALSE(DecodeFrame(got[0].frame.header.data(), got[0].frame.header.size(), got[0].frame.attachments, &m, &err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
}

}  // namespace
}  // namespace dray::real
