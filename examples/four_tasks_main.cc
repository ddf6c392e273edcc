#include <cstdio>
#include <dray/dray.h>
int F(int x);
int Add(int a, int b);
int main(int argc, char** argv) {
  dray::Init(argc, argv);
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 4; ++i) refs.push_back(dray::Task(F).Remote(i));
  auto vs = dray::Get(refs);
  for (auto& v : vs) std::printf("%d ", *v);
  std::printf("\nelapsed %.6f s\n", dray::Now().count() / 1e9);
  auto t0 = dray::Now();
  auto a = dray::Task(Add).Remote(1, 2);
  auto b = dray::Task(Add).Remote(3, 4);
  auto c = dray::Task(Add).Remote(a, b);
  std::printf("sum %d in %.6f s\n", *dray::Get(c), (dray::Now() - t0).count() / 1e9);
  dray::Shutdown();
}
