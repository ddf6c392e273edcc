// Seed 003 ("generate the Fibonacci sequence"):
//
//   def generate_fibonacci(sequence_size):
//       fibonacci = []
//       for i in range(0, sequence_size):
//           if i < 2:
//               fibonacci.append(i)
//               continue
//           fibonacci.append(fibonacci[i-1] + fibonacci[i-2])
//       return len(fibonacci)
//   @ray.remote
//   def generate_fibonacci_distributed(sequence_size):
//       return generate_fibonacci(sequence_size)
//   results = ray.get([generate_fibonacci_distributed.remote(SEQUENCE_SIZE) for _ in range(os.cpu_count())])
//
// Python's integers grow without bound; the twin adds modulo 2^64. The seed's
// machine had 8 cores; the twin uses kCpuCount = 8 tasks whatever the
// cluster (the host's core count would make runs differ between machines).
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
constexpr int kCpuCount = 8;
constexpr int kSequenceSize = 200000;

int generate_fibonacci(int sequence_size) {
  std::vector<uint64_t> fibonacci;
  for (int i = 0; i < sequence_size; ++i) {
    if (i < 2) {
      fibonacci.push_back(static_cast<uint64_t>(i));
      continue;
    }
    fibonacci.push_back(fibonacci[static_cast<size_t>(i - 1)] + fibonacci[static_cast<size_t>(i - 2)]);
  }
  return static_cast<int>(fibonacci.size());
}

int generate_fibonacci_distributed(int sequence_size) { return generate_fibonacci(sequence_size); }
}  // namespace
DRAY_REMOTE(generate_fibonacci_distributed);

ExampleResult RunFibonacci() {
  ExampleResult r;
  Checker c;
  // Serially, in the driver.
  auto start = dray::Now();
  std::vector<int> local;
  for (int i = 0; i < kCpuCount; ++i) local.push_back(generate_fibonacci(kSequenceSize));
  auto end = dray::Now();
  double serial_s = Seconds(end - start);

  // As tasks.
  start = dray::Now();
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < kCpuCount; ++i) refs.push_back(dray::Task(generate_fibonacci_distributed).Remote(kSequenceSize));
  std::vector<int> remote;
  for (const auto& v : dray::Get(refs)) remote.push_back(*v);
  end = dray::Now();
  double dist_s = Seconds(end - start);

  r.timings_s["serial"] = serial_s;
  r.timings_s["distributed"] = dist_s;
  r.output.push_back(Format("Serial :: fibonacci sequence %d elapsed: %.2f sec (virtual; compute takes none)",
                            kSequenceSize, serial_s));
  r.output.push_back(
      Format("Distributed :: fibonacci sequence %d elapsed: %.2f sec, results = %s", kSequenceSize, dist_s,
             FormatList(remote).c_str()));
  r.summary = Format("%d tasks returned %s", kCpuCount, FormatList(remote).c_str());
  c.Check(remote == std::vector<int>(kCpuCount, kSequenceSize),
          "results are " + FormatList(remote) + Format(", expected %d x %d", kCpuCount, kSequenceSize));
  c.Check(local == remote, "the serial and the distributed results differ");
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
