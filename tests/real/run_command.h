// Runs a command for the real runtime's multi-process tests, with the
// variables a test must not inherit (DRAY_SIM, DRAY_ADDRESS, ...) unset, so
// what runs is what the test means: the embedded cluster, a given address.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <initializer_list>
#include <string>

namespace dray::test {

struct RunResult {
  int exit_code = -1;  // 128 + N when killed by signal N
  std::string output;  // stdout and stderr
};

// Runs the shell line `command` with every variable in `unset` removed from
// its environment; blocks until it exits.
inline RunResult RunCommand(const std::string& command, std::initializer_list<const char*> unset) {
  RunResult r;
  std::string cmd = "env";
  for (const char* v : unset) cmd += std::string(" -u ") + v;
  cmd += " " + command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace dray::test
