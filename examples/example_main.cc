// One executable per seed example: compiled once per example with
// -DDRAY_EXAMPLE_NAME="name". Runs in the simulator with
//   DRAY_SIM="seed=1,nodes=1,cpus=4" ./four_tasks
// or ./four_tasks --dray-sim=seed=1,nodes=3,cpus=2
#include <cstdio>
#include <exception>

#include <dray/dray.h>

#include "examples.h"

#ifndef DRAY_EXAMPLE_NAME
#error "compile with -DDRAY_EXAMPLE_NAME=\"<example name>\""
#endif

int main(int argc, char** argv) {
  const dray::examples::ExampleInfo* ex = dray::examples::FindExample(DRAY_EXAMPLE_NAME);
  if (!ex) {
    std::fprintf(stderr, "no example named '%s'\n", DRAY_EXAMPLE_NAME);
    return 2;
  }
  try {
    dray::Init(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 2;
  }
  std::printf("== %s: %s\n", ex->name, ex->description);
  std::fflush(stdout);
  dray::examples::ExampleResult r = ex->run();
  dray::Shutdown();
  for (const auto& line : r.output) std::printf("%s\n", line.c_str());
  if (r.ok) {
    std::printf("ok\n");
    return 0;
  }
  std::printf("FAILED: %s\n", r.error.c_str());
  return 1;
}
