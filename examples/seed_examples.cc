#include <dray/dray.h>
int F(int x) { dray::SleepFor(std::chrono::seconds(1)); return x; }
int Add(int a, int b) { dray::SleepFor(std::chrono::seconds(1)); return a + b; }
DRAY_REMOTE(F, Add);
