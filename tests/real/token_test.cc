// The cluster token file (real/token.h): made 0600, refused when others may
// read it, never overwritten.
#include "real/token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace dray::real {
namespace {

std::string TempDir() {
  auto d = std::filesystem::temp_directory_path() / ("dray-token-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d.string();
}

TEST(Token, WriteThenRead) {
  std::string dir = TempDir();
  std::string path = TokenPath(dir);
  EXPECT_EQ(path, dir + "/session/token");
  std::string tok, err;
  ASSERT_TRUE(GenerateToken(&tok, &err)) << err;
  EXPECT_EQ(tok.size(), 64u);
  ASSERT_TRUE(WriteTokenFile(path, tok, &err)) << err;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string back;
  ASSERT_TRUE(ReadTokenFile(path, &back, &err)) << err;
  EXPECT_EQ(back, tok);
  // Never overwritten.
  EXPECT_FALSE(WriteTokenFile(path, "another-token-0123456", &err));
  // Refused once others may read it.
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_FALSE(ReadTokenFile(path, &back, &err));
  EXPECT_NE(err.find("mode 644"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

TEST(Token, TooShortOrMissing) {
  std::string dir = TempDir();
  std::string err, tok;
  EXPECT_FALSE(ReadTokenFile(dir + "/nope", &tok, &err));
  EXPECT_NE(err.find("cannot read"), std::string::npos) << err;
  ASSERT_TRUE(WriteTokenFile(TokenPath(dir), "short", &err)) << err;
  EXPECT_FALSE(ReadTokenFile(TokenPath(dir), &tok, &err));
  EXPECT_NE(err.find("fewer than 16"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dray::real
