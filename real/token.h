// The cluster token: a secret every process of one cluster shares, proven by
// the handshake (real/handshake.h). It lives in <temp-dir>/session/token
// (mode 0600, 64 hex characters and a newline); the head writes it at start,
// other processes on that machine read it, and processes on other machines
// are given it (docs/protocol.md, "Cluster token").
#pragma once
#include <string>

namespace dray::real {

inline constexpr size_t kTokenMinBytes = 16;

// <temp_dir>/session/token.
std::string TokenPath(const std::string& temp_dir);
// 32 bytes from OpenSSL's CSPRNG as 64 hex characters; false with *error if
// it has no entropy.
bool GenerateToken(std::string* token, std::string* error);
// Writes the token (and a newline) to a new file of mode 0600, making its
// directory (mode 0700) if needed. Fails if the file exists.
bool WriteTokenFile(const std::string& path, const std::string& token, std::string* error);
// Reads a token file: refuses one that group or others may read or write,
// or a token shorter than kTokenMinBytes. The trailing newline is dropped.
bool ReadTokenFile(const std::string& path, std::string* token, std::string* error);

}  // namespace dray::real
