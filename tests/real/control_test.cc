// Control frames' bodies (real/host.h, docs/protocol.md "Cluster control"):
// they round-trip, and whatever a peer sends decodes or fails with an error,
// never a crash or an allocation larger than the body.
#include <gtest/gtest.h>

#include <string>

#include "real/host.h"

namespace dray::real {
namespace {

TEST(Control, RoundTrips) {
  HostControl c{kCtlJoinDriver, 3, 7, "text", {"/bin/prog", "prog", "--x=1"}};
  HostControl back;
  std::string err;
  ASSERT_TRUE(DecodeControl(EncodeControl(c), &back, &err)) << err;
  EXPECT_EQ(back.type, c.type);
  EXPECT_EQ(back.node, 3u);
  EXPECT_EQ(back.proc, 7u);
  EXPECT_EQ(back.text, "text");
  EXPECT_EQ(back.args, c.args);
}

TEST(Control, BadBodiesFailWithAnError) {
  HostControl c;
  std::string err;
  for (const std::string& body :
       {std::string(), std::string("\xc1"), std::string("not msgpack at all"), std::string("\x92\x01\x02", 3),
        std::string("\xdd\xff\xff\xff\xff", 5) /* an array of 4 G elements, 0 present */,
        std::string("\x95\xa1x\xcc\x01\x00\xa0", 7) /* the fifth field missing */,
        std::string("\x95\x01\x00\x00\xa0\x90", 6) /* a type that is not a string */,
        std::string(kControlMaxBytes + 1, '\x90')}) {
    err.clear();
    EXPECT_FALSE(DecodeControl(body, &c, &err)) << "accepted " << body.size() << " bytes";
    EXPECT_FALSE(err.empty());
  }
}

TEST(Control, EveryPrefixOfAValidBodyIsRefusedOrDecodes) {
  std::string good = EncodeControl(HostControl{kCtlWelcome, 1, 2, "t", {"a"}});
  for (size_t n = 0; n < good.size(); ++n) {
    HostControl c;
    std::string err;
    EXPECT_FALSE(DecodeControl(good.substr(0, n), &c, &err)) << n;
  }
}

}  // namespace
}  // namespace dray::real
