// DRAY_ASSERT: on in every build (TigerBeetle's habit). A failed assertion is
// a bug in dray, never a user error: it prints where and aborts.
#pragma once
#include <cstdio>
#include <cstdlib>

namespace dray::internal {
[[noreturn]] inline void AssertFail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "dray: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               msg ? ": " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace dray::internal

#define DRAY_ASSERT(cond, ...)                                                          \
  do {                                                                                  \
    if (__builtin_expect(!(cond), 0))                                                   \
      ::dray::internal::AssertFail(#cond, __FILE__, __LINE__, ::dray::internal::AssertMsg(__VA_ARGS__)); \
  } while (0)

namespace dray::internal {
inline const char* AssertMsg() { return nullptr; }
inline const char* AssertMsg(const char* m) { return m; }
}  // namespace dray::internal
