#include "real/token.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dray::real {

std::string TokenPath(const std::string& temp_dir) { return temp_dir + "/session/token"; }

bool GenerateToken(std::string* token, std::string* error) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    *error = "no random bytes from OpenSSL (RAND_bytes) for the cluster token";
    return false;
  }
  static const char* kHex = "0123456789abcdef";
  token->clear();
  for (unsigned char c : raw) {
    token->push_back(kHex[c >> 4]);
    token->push_back(kHex[c & 15]);
  }
  return true;
}

bool WriteTokenFile(const std::string& path, const std::string& token, std::string* error) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      *error = "cannot make " + dir.string() + " for the cluster token: " + ec.message();
      return false;
    }
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create the cluster token file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text = token + "\n";
  ssize_t n = ::write(fd, text.data(), text.size());
  int write_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    *error = "cannot write the cluster token file " + path + ": " + std::strerror(write_errno);
    return false;
  }
  return true;
}

bool ReadTokenFile(const std::string& path, std::string* token, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot read the cluster token file " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  std::string text;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok && (st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    *error = "the cluster token file " + path + " may be read or written by others (mode " + mode + "); chmod 600 it";
    return false;
  }
  char buf[4096];
  ssize_t n = 0;
  while (ok && (n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < 65536) text.append(buf, static_cast<size_t>(n));
  if (n < 0) ok = false;
  ::close(fd);
  if (!ok) {
    *error = "cannot read the cluster token file " + path + ": " + std::strerror(errno);
    return false;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() < kTokenMinBytes) {
    *error = "the cluster token in " + path + " has " + std::to_string(text.size()) + " bytes, fewer than " +
             std::to_string(kTokenMinBytes);
    return false;
  }
  *token = std::move(text);
  return true;
}

}  // namespace dray::real
