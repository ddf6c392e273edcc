// Multi-node clusters (docs/operations.md): the `dray start` daemons (a head:
// the control service and node 0's manager; a node: one node manager that
// joins the head), `dray stop` and `dray status`, and what a driver needs to
// join (the head's address, the cluster token).
//
// Topology: every node and every driver keeps one TCP connection to the head,
// which relays routed frames between them (a star; docs/architecture.md).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dray::real {

inline constexpr uint16_t kDefaultPort = 6390;

struct DaemonOptions {
  bool head = false;
  std::string address;            // a node: the head's HOST:PORT ("" : <temp-dir>/head_address)
  std::string host = "0.0.0.0";   // the head: the address it listens on
  uint16_t port = kDefaultPort;   // the head: 0 picks a free port
  int num_cpus = 0;               // 0: hardware threads
  double num_gpus = 0;
  std::map<std::string, double> resources;
  uint64_t object_store_memory = 0;  // 0: the node manager's default (2 GiB)
  std::string temp_dir;           // "": DefaultTempDir()
  std::string token_file;         // a node: where the token is ("": see ResolveToken)
  bool block = false;
  // The head: the control service's health checks (0: its defaults, 3 s
  // and 5 misses); a node is declared dead after `misses` missed checks.
  uint32_t health_period_ms = 0;
  uint32_t health_misses = 0;
  std::string record_dir;         // --record: the daemon's (and its workers') traces go here (absolute)
  // --code-path: this daemon's workers run <code_path>/<the driver program's
  // file name> instead of the driver's own path (absolute; "": that path).
  std::string code_path;
};

// $TMPDIR/dray, or /tmp/dray.
std::string DefaultTempDir();
// The cluster token, from the first that is set: DRAY_TOKEN (the token),
// `token_file`, DRAY_TOKEN_FILE, <temp_dir>/session/token. False with *error.
bool ResolveToken(const std::string& temp_dir, const std::string& token_file, std::string* token,
                  std::string* error);
// "HOST:PORT" (a port 1..65535); "auto" or "": the one in <temp_dir>/head_address.
bool ResolveAddress(const std::string& address, const std::string& temp_dir, std::string* host, uint16_t* port,
                    std::string* error);
// A flat JSON object of numbers: {"GPU": 2, "disk": 0.5}.
bool ParseResourcesJson(const std::string& json, std::map<std::string, double>* out, std::string* error);

// The commands; each returns the process's exit status and prints what it did.
int StartCommand(const DaemonOptions& options);
int StopCommand(const std::string& temp_dir);
int StatusCommand(const std::string& address, const std::string& temp_dir);

}  // namespace dray::real
