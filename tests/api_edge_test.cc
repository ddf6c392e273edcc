// Corners of the public task API in the simulator: repeated refs, Wait with
// num_returns 0, timeouts inside and outside tasks, errors that propagate,
// and what is left behind afterwards.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int EdgeSquare(int x) { return x * x; }
int EdgeSlow(int x) {
  dray::SleepFor(std::chrono::seconds(5));
  return x;
}
// 0.25 is not integral, so msgpack keeps every element as a 9-byte double:
// 20000 of them are about 176 KiB, above the inline limit (integral doubles
// would shrink to 1-byte integers and stay inline).
std::vector<double> EdgeBig(int n) { return std::vector<double>(static_cast<size_t>(n), 0.25); }
double EdgeSumTwo(std::vector<double> a, std::vector<double> b) {
  return std::accumulate(a.begin(), a.end(), 0.0) + std::accumulate(b.begin(), b.end(), 0.0);
}
int EdgeThrow(int x) { throw std::invalid_argument("bad input " + std::to_string(x)); }
int EdgeAddOne(int x) { return x + 1; }
// Waits for a slow task with a timeout from inside a task.
std::string EdgeGetWithTimeout(int x) {
  auto r = dray::Task(EdgeSlow).Remote(x);
  try {
    dray::Get(r, std::chrono::milliseconds(100));
    return "no timeout";
  } catch (const dray::GetTimeoutError&) {
  }
  return "timeout then " + std::to_string(*dray::Get(r));
}
DRAY_REMOTE(EdgeSquare, EdgeSlow, EdgeBig, EdgeSumTwo, EdgeThrow, EdgeAddOne, EdgeGetWithTimeout);

class ApiEdge : public ::testing::Test {
 protected:
  void SetUp() override { dray::Init(dray::Config{.sim = "seed=3,nodes=3,cpus=2"}); }
  void TearDown() override {
    if (dray::IsInitialized()) dray::Shutdown();
  }
  void ExpectClean() {
    dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
    EXPECT_TRUE(s.Clean()) << s.Str();
  }
};

// A user type whose adaptor packs a temporary: Serialize must not keep
// pointers into it (it packs a large value twice: size, then bytes).
struct Rendered {
  int n = 0;
};
}  // namespace
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<Rendered> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const Rendered& r) const {
    o.pack(std::string(static_cast<size_t>(r.n), 'r'));  // a temporary, gone before the next write
    o.pack(r.n);
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
namespace {

TEST(ApiEdgeSizes, ATemporaryPackedByAnAdaptorIsCopiedInTime) {
  for (int n : {10, 5000, 70000, 300000}) {
    Rendered r{n};
    dray::internal::ValueData v = dray::internal::Serialize(r);
    msgpack::object_handle oh = msgpack::unpack(v.data.data(), v.data.size());
    std::string s;
    oh.get().convert(s);
    EXPECT_EQ(s, std::string(static_cast<size_t>(n), 'r')) << n;
  }
  // A Buffer and a string survive the round trip at every size class.
  for (size_t n : {size_t{1}, size_t{4096}, size_t{65536}, size_t{1} << 20}) {
    std::string big(n, 'b');
    big[n / 2] = 'x';
    auto back = dray::internal::Deserialize<dray::Buffer>(dray::internal::Serialize(dray::Buffer(big)));
    EXPECT_EQ(back->view(), big);
    auto str = dray::internal::Deserialize<std::string>(dray::internal::Serialize(big));
    EXPECT_EQ(*str, big);
  }
}

TEST(ApiEdgeSizes, BigValuesAreAboveTheInlineLimit) {
  msgpack::sbuffer sb;
  msgpack::pack(sb, EdgeBig(20000));
  EXPECT_GT(sb.size(), 100u * 1024);
  EXPECT_LT(sb.size(), 200u * 1024);
}

TEST_F(ApiEdge, GetTheSameRefTwiceInOneCall) {
  {
    auto r = dray::Task(EdgeSquare).Remote(7);
    auto big = dray::Task(EdgeBig).Remote(20000);
    auto v = dray::Get(std::vector<dray::ObjectRef<int>>{r, r, r});
    ASSERT_EQ(v.size(), 3u);
    for (const auto& x : v) EXPECT_EQ(*x, 49);
    auto b = dray::Get(std::vector<dray::ObjectRef<std::vector<double>>>{big, big});
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0]->size(), 20000u);
    EXPECT_EQ(b[1]->size(), 20000u);
  }
  ExpectClean();
}

TEST_F(ApiEdge, TheSameLargeRefTwiceAsArguments) {
  {
    auto big = dray::Task(EdgeBig).Remote(20000);
    std::vector<dray::ObjectRef<double>> sums;
    for (int i = 0; i < 6; ++i) sums.push_back(dray::Task(EdgeSumTwo).Remote(big, big));
    for (const auto& s : dray::Get(sums)) EXPECT_DOUBLE_EQ(*s, 10000.0);
  }
  ExpectClean();
}

TEST_F(ApiEdge, WaitReturnsAtMostNumReturnsReady) {
  {
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 4; ++i) refs.push_back(dray::Task(EdgeSquare).Remote(i));
    dray::Get(refs);  // all ready now
    auto w1 = dray::Wait(refs, 1);
    ASSERT_EQ(w1.ready.size(), 1u);
    EXPECT_EQ(w1.ready[0], refs[0]);  // input order
    EXPECT_EQ(w1.unready.size(), 3u);
    auto w3 = dray::Wait(refs, 3);
    EXPECT_EQ(w3.ready.size(), 3u);
    EXPECT_EQ(w3.unready.size(), 1u);
  }
  ExpectClean();
}

// dray.h: "at most num_returns are ready". Wait(refs, 0) must return at once
// with nothing ready.
TEST_F(ApiEdge, WaitZeroReturnsNothingReady) {
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 4; ++i) refs.push_back(dray::Task(EdgeSquare).Remote(i));
  dray::Get(refs);
  auto w0 = dray::Wait(refs, 0);
  EXPECT_EQ(w0.ready.size(), 0u) << "Wait(refs, 0) returned ready refs";
  EXPECT_EQ(w0.unready.size(), 4u);
}

TEST_F(ApiEdge, GetTimeoutInTheDriverThenTheValue) {
  {
    auto r = dray::Task(EdgeSlow).Remote(3);
    auto t0 = dray::Now();
    EXPECT_THROW(dray::Get(r, std::chrono::milliseconds(200)), dray::GetTimeoutError);
    auto waited = dray::Now() - t0;
    EXPECT_GE(waited, std::chrono::milliseconds(200));
    EXPECT_LT(waited, std::chrono::milliseconds(300));
    EXPECT_EQ(*dray::Get(r), 3);
  }
  ExpectClean();
}

TEST_F(ApiEdge, GetTimeoutInsideATask) {
  {
    auto r = dray::Task(EdgeGetWithTimeout).Remote(9);
    EXPECT_EQ(*dray::Get(r), "timeout then 9");
  }
  ExpectClean();
}

TEST_F(ApiEdge, AThrowingTaskFailsItsDependents) {
  {
    auto bad = dray::Task(EdgeThrow).Remote(5);
    auto dep = dray::Task(EdgeAddOne).Remote(bad);
    try {
      dray::Get(dep);
      FAIL() << "Get of a dependent of a failed task returned a value";
    } catch (const dray::TaskError& e) {
      EXPECT_EQ(e.task_name(), "EdgeThrow");  // the original failure, not the dependent
      EXPECT_NE(e.exception_type().find("invalid_argument"), std::string::npos) << e.exception_type();
      EXPECT_EQ(e.message(), "bad input 5");
    }
    EXPECT_THROW(dray::Get(bad), dray::TaskError);
  }
  ExpectClean();
}

TEST_F(ApiEdge, NullRefIsRejected) {
  dray::ObjectRef<int> null;
  EXPECT_THROW(dray::Get(null), dray::Error);
}

TEST_F(ApiEdge, InfeasibleTaskTimesOutAndIsReported) {
  auto r = dray::Task(EdgeSquare).SetResource("CPU", 64).Remote(2);
  EXPECT_THROW(dray::Get(r, std::chrono::seconds(1)), dray::GetTimeoutError);
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet(std::chrono::seconds(2));
  EXPECT_EQ(s.pending_tasks, 1u) << s.Str();
}

// A Get that times out while its large value is still being pulled to the
// driver's node, then the ref is dropped: the object is freed at its source
// while the pull is under way. The cluster must still go quiet (the pull ends
// one way or another) instead of retrying forever.
class AbandonedFetch : public ::testing::TestWithParam<int> {};

TEST_P(AbandonedFetch, ClusterGoesQuiet) {
  dray::Init(dray::Config{.sim = "seed=" + std::to_string(GetParam()) + ",nodes=2,cpus=2"});
  {
    auto big = dray::Task(EdgeBig).SetResource("node:1", 0.01).Remote(20000);  // stored on node 1
    std::vector<dray::ObjectRef<std::vector<double>>> refs{big};
    dray::Wait(refs, 1);  // ready, nothing fetched yet
    EXPECT_THROW(dray::Get(big, std::chrono::nanoseconds(1)), dray::GetTimeoutError);
  }
  int64_t before = dray::sim::CurrentStats().virtual_ns;
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet(std::chrono::seconds(30));
  int64_t spent = dray::sim::CurrentStats().virtual_ns - before;
  dray::Shutdown();
  EXPECT_TRUE(s.Clean()) << s.Str();
  EXPECT_LT(spent, int64_t{5'000'000'000}) << "the cluster never went quiet (" << spent / 1e9 << " s of virtual time)";
}
INSTANTIATE_TEST_SUITE_P(Seeds, AbandonedFetch, ::testing::Range(1, 9));

TEST_F(ApiEdge, ManyRoundsOfSubmitAndDropStayClean) {
  for (int round = 0; round < 20; ++round) {
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 10; ++i) refs.push_back(dray::Task(EdgeAddOne).Remote(i));
    auto big = dray::Task(EdgeBig).Remote(15000 + round);
    int s = 0;
    for (const auto& v : dray::Get(refs)) s += *v;
    ASSERT_EQ(s, 55);
    ASSERT_EQ(dray::Get(big)->size(), static_cast<size_t>(15000 + round));
  }
  ExpectClean();
}

}  // namespace
