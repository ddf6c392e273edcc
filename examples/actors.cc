// The actor examples of the seed texts. Each Python class becomes a C++ class
// with a static factory; methods are called through a handle:
//
//   @ray.remote
//   class Counter(object):
//       def __init__(self): self.x = 0
//       def inc(self): self.x += 1
//       def get_value(self): return self.x
//   c = Counter.remote()
//   c.inc.remote()
//
// becomes
//
//   auto c = dray::Actor(Counter::Create).Remote();
//   c.Task(&Counter::Inc).Remote();
#include <dray/dray.h>

#include <mutex>
#include <stdexcept>

#include "examples.h"

namespace dray::examples {

// ---- seed 000: "From Classes to Actors" ----
class Counter000 {
 public:
  static Counter000* Create() { return new Counter000(); }
  void Inc() { x_ += 1; }
  int GetValue() { return x_; }

 private:
  int x_ = 0;
};

// ---- seed 000: "Actor Handles": a message box fed by three workers ----
class MessageActor {
 public:
  static MessageActor* Create() { return new MessageActor(); }
  void AddMessage(std::string message) { messages_.push_back(std::move(message)); }
  std::vector<std::string> GetAndClearMessages() {
    std::vector<std::string> out;
    out.swap(messages_);
    return out;
  }

 private:
  std::vector<std::string> messages_;
};

// ---- seed 001: four counters; seed 002: ten one-second increments ----
class Counter001 {
 public:
  static Counter001* Create() { return new Counter001(); }
  void Increment() { n_ += 1; }
  int Read() { return n_; }

 private:
  int n_ = 0;
};

class SlowCounter {
 public:
  static SlowCounter* Create() { return new SlowCounter(); }
  int Increment() {
    dray::SleepFor(std::chrono::seconds(1));  // time.sleep(1): a slow operation
    count_ += 1;
    return count_;
  }
  int GetCount() { return count_; }

 private:
  int count_ = 0;
};

// ---- seed 004: basics, kill, copies, unserializable values, getters/setters ----
class Counter004 {
 public:
  static Counter004* Create() { return new Counter004(); }
  int Increment() { return ++value_; }
  int GetValue() { return value_; }

 private:
  int value_ = 0;
};

// Python's id() is an object's address, which would differ from run to run
// (and the simulator's traces must not). Here an object's identity is a
// number its maker gives it; a copy is a new object and starts without one.
struct Bar {
  int tag = 7;
  uint64_t id = 0;  // not serialized: identity is not part of the value
  Bar() = default;
  Bar(const Bar& o) : tag(o.tag) {}
  Bar& operator=(const Bar& o) {
    tag = o.tag;
    return *this;
  }
  MSGPACK_DEFINE(tag);
};
class Foo {
 public:
  static Foo* Create() { return new Foo(); }
  Foo() { val_.id = 1; }  // the actor's own object
  Bar GetVal() { return val_; }
  uint64_t GetId() { return val_.id; }  // id(self.val)

 private:
  Bar val_;
};

// A value that cannot be serialized (Python's threading.Lock).
struct Unserializable {
  std::shared_ptr<std::mutex> lock = std::make_shared<std::mutex>();
  int value = 0;
};
class MyActor {
 public:
  static MyActor* Create() { return new MyActor(); }
  Unserializable GetValue() { return unserializable_; }

 private:
  Unserializable unserializable_;
};

class Attributes {
 public:
  static Attributes* Create() { return new Attributes(); }
  int GetValue(std::string key) { return key == "value1" ? value1_ : value2_; }  // getattr(self, key)
  void Update(std::string key, int value) { (key == "value1" ? value1_ : value2_) = value; }  // setattr

 private:
  int value1_ = 0;
  int value2_ = 100;
};

namespace {
// The seed's worker task: pushes 100 messages, one a second.
void PushMessages(dray::ActorHandle<MessageActor> message_actor, int j, int count) {
  for (int i = 0; i < count; ++i) {
    dray::SleepFor(std::chrono::seconds(1));
    message_actor.Task(&MessageActor::AddMessage).Remote(Format("Message %d from worker %d.", i, j));
  }
}
}  // namespace

DRAY_REMOTE(Counter000::Create, &Counter000::Inc, &Counter000::GetValue, MessageActor::Create,
            &MessageActor::AddMessage, &MessageActor::GetAndClearMessages, Counter001::Create,
            &Counter001::Increment, &Counter001::Read, SlowCounter::Create, &SlowCounter::Increment,
            &SlowCounter::GetCount, Counter004::Create, &Counter004::Increment, &Counter004::GetValue, Foo::Create,
            &Foo::GetVal, &Foo::GetId, MyActor::Create, &MyActor::GetValue, Attributes::Create,
            &Attributes::GetValue, &Attributes::Update, PushMessages);

}  // namespace dray::examples

// Serializing the lock fails, as pickling one does in Python.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<dray::examples::Unserializable> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>&, const dray::examples::Unserializable&) const {
    throw std::runtime_error("cannot serialize a std::mutex (the value holds a lock)");
  }
};
template <>
struct convert<dray::examples::Unserializable> {
  const msgpack::object& operator()(const msgpack::object& o, dray::examples::Unserializable&) const {
    throw msgpack::type_error();
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack

namespace dray::examples {

ExampleResult RunActorCounter() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  // Create an actor process.
  auto counter = dray::Actor(Counter000::Create).Remote();
  // Check the actor's counter value.
  int first = *dray::Get(counter.Task(&Counter000::GetValue).Remote());
  // Increment the counter twice and check the value again.
  counter.Task(&Counter000::Inc).Remote();
  counter.Task(&Counter000::Inc).Remote();
  int second = *dray::Get(counter.Task(&Counter000::GetValue).Remote());
  r.output = {std::to_string(first), std::to_string(second)};
  r.summary = Format("get_value: %d, then %d after two inc", first, second);
  c.Check(first == 0 && second == 2, Format("got %d and %d, expected 0 and 2", first, second));
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunMessageActor(int rounds) {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  // Create a message actor.
  auto message_actor = dray::Actor(MessageActor::Create).Remote();
  // Start 3 tasks that push messages to the actor.
  std::vector<dray::ObjectRef<void>> workers;
  for (int j = 0; j < 3; ++j) workers.push_back(dray::Task(PushMessages).Remote(message_actor, j, rounds));
  // Periodically get the messages and print them.
  std::vector<std::vector<int>> seen(3);  // message numbers per worker, in arrival order
  size_t total = 0;
  for (int k = 0; k < rounds + 2; ++k) {
    auto new_messages = *dray::Get(message_actor.Task(&MessageActor::GetAndClearMessages).Remote());
    std::string line = "New messages: [";
    for (size_t i = 0; i < new_messages.size(); ++i) {
      const std::string& m = new_messages[i];
      line += (i ? ", '" : "'") + m + "'";
      int num = -1, worker = -1;
      if (std::sscanf(m.c_str(), "Message %d from worker %d.", &num, &worker) == 2 && worker >= 0 && worker < 3)
        seen[worker].push_back(num);
      else
        c.Check(false, "a malformed message: " + m);
    }
    total += new_messages.size();
    if (k < 6) r.output.push_back(line + "]");
    dray::SleepFor(std::chrono::seconds(1));
  }
  dray::Get(workers);
  auto rest = *dray::Get(message_actor.Task(&MessageActor::GetAndClearMessages).Remote());
  for (const auto& m : rest) {
    int num = -1, worker = -1;
    if (std::sscanf(m.c_str(), "Message %d from worker %d.", &num, &worker) == 2 && worker >= 0 && worker < 3)
      seen[worker].push_back(num);
  }
  total += rest.size();
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  r.summary = Format("%zu messages from 3 workers in %.2f s", total, r.timings_s["duration"]);
  c.Check(total == static_cast<size_t>(3 * rounds), Format("%zu messages, expected %d", total, 3 * rounds));
  // Calls from one caller run in order: each worker's messages arrive in order.
  for (int j = 0; j < 3; ++j) {
    std::vector<int> want(static_cast<size_t>(rounds));
    for (int i = 0; i < rounds; ++i) want[static_cast<size_t>(i)] = i;
    c.Check(seen[j] == want, Format("worker %d's messages arrived as %s", j, FormatList(seen[j]).c_str()));
  }
  c.Finish(r);
  return r;
}
ExampleResult RunMessageActor() { return RunMessageActor(100); }

ExampleResult RunFourCounters() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::vector<dray::ActorHandle<Counter001>> counters;
  for (int i = 0; i < 4; ++i) counters.push_back(dray::Actor(Counter001::Create).Remote());
  auto read_all = [&] {
    std::vector<dray::ObjectRef<int>> futures;
    for (auto& counter : counters) futures.push_back(counter.Task(&Counter001::Read).Remote());
    std::vector<int> out;
    for (const auto& v : dray::Get(futures)) out.push_back(*v);
    return out;
  };
  for (auto& counter : counters) counter.Task(&Counter001::Increment).Remote();
  std::vector<int> first = read_all();
  for (int k = 0; k < 10; ++k)
    for (auto& counter : counters) counter.Task(&Counter001::Increment).Remote();
  std::vector<int> later = read_all();
  r.output = {FormatList(first), FormatList(later)};
  r.summary = "reads " + FormatList(first) + " then " + FormatList(later);
  c.Check(first == std::vector<int>(4, 1), "first reads are " + FormatList(first) + ", expected [1, 1, 1, 1]");
  c.Check(later == std::vector<int>(4, 11), "later reads are " + FormatList(later) + ", expected [11, 11, 11, 11]");
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunCounterTiming() {
  ExampleResult r;
  Checker c;
  auto counter = dray::Actor(SlowCounter::Create).Remote();
  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> increment_refs;
  for (int i = 0; i < 10; ++i) increment_refs.push_back(counter.Task(&SlowCounter::Increment).Remote());
  std::vector<int> results;
  for (const auto& v : dray::Get(increment_refs)) results.push_back(*v);
  int final_count = *dray::Get(counter.Task(&SlowCounter::GetCount).Remote());
  double duration = Seconds(dray::Now() - start);
  r.timings_s["duration"] = duration;
  r.output = {"results = " + FormatList(results), Format("final count = %d", final_count),
              Format("duration = %.4f s", duration)};
  r.summary = Format("%s, final %d, in %.3f s", FormatList(results).c_str(), final_count, duration);
  c.Check(results == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
          "results are " + FormatList(results) + ", expected [1, ..., 10]");
  c.Check(final_count == 10, Format("final count %d, expected 10", final_count));
  c.Finish(r);
  return r;
}

ExampleResult RunActorBasics() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  auto counter = dray::Actor(Counter004::Create).Remote();
  auto future1 = counter.Task(&Counter004::Increment).Remote();
  auto future2 = counter.Task(&Counter004::Increment).Remote();
  auto future3 = counter.Task(&Counter004::GetValue).Remote();
  std::vector<int> both;
  for (const auto& v : dray::Get(std::vector{future1, future2})) both.push_back(*v);
  int value = *dray::Get(future3);
  r.output = {FormatList(both), std::to_string(value)};
  r.summary = Format("%s, then %d", FormatList(both).c_str(), value);
  c.Check(both == std::vector<int>{1, 2}, "increments gave " + FormatList(both) + ", expected [1, 2]");
  c.Check(value == 2, Format("get_value gave %d, expected 2", value));
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunActorKill() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  auto counter = dray::Actor(Counter004::Create).Remote();
  dray::Kill(counter);
  auto future = counter.Task(&Counter004::Increment).Remote();
  std::string what;
  try {
    dray::Get(future);
    c.Check(false, "a call after Kill returned a value");
  } catch (const dray::ActorDiedError& e) {
    what = e.what();
  }
  r.output = {"ActorDiedError: " + what};
  r.summary = "a call after Kill: ActorDiedError";
  c.Check(what.find("Kill") != std::string::npos, "the error does not say the actor was killed: " + what);
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunActorCopies() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::vector<dray::ActorHandle<Foo>> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(dray::Actor(Foo::Create).Remote());
  std::vector<dray::ObjectRef<Bar>> futures;
  for (auto& w : workers) futures.push_back(w.Task(&Foo::GetVal).Remote());
  auto bars = dray::Get(futures);
  std::vector<dray::ObjectRef<uint64_t>> id_refs;
  for (auto& w : workers) id_refs.push_back(w.Task(&Foo::GetId).Remote());
  auto ids = dray::Get(id_refs);
  for (size_t i = 0; i < bars.size(); ++i) {
    uint64_t local = bars[i]->id;
    r.output.push_back(Format("%llu %llu", static_cast<unsigned long long>(*ids[i]),
                              static_cast<unsigned long long>(local)));
    // What came back is a copy: never the actor's own object.
    c.Check(*ids[i] != local, "a value from an actor is the actor's own object, not a copy");
    c.Check(bars[i]->tag == 7, "a copy lost its contents");
  }
  r.summary = "4 actors' values came back as copies";
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunActorUnserializable() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::string what;
  try {
    auto actor = dray::Actor(MyActor::Create).Remote();
    dray::Get(actor.Task(&MyActor::GetValue).Remote());
    c.Check(false, "an unserializable value was returned");
  } catch (const dray::TaskError& e) {
    what = e.what();
  }
  r.output = {"Error: " + what};
  r.summary = "returning an unserializable value: TaskError";
  c.Check(what.find("mutex") != std::string::npos, "the error does not say what failed: " + what);
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

ExampleResult RunActorAttributes() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  auto counter = dray::Actor(Attributes::Create).Remote();
  int value1 = *dray::Get(counter.Task(&Attributes::GetValue).Remote(std::string("value1")));
  int value2 = *dray::Get(counter.Task(&Attributes::GetValue).Remote(std::string("value2")));
  r.output.push_back(Format("%d %d", value1, value2));
  c.Check(value1 == 0 && value2 == 100, Format("got %d %d, expected 0 100", value1, value2));
  counter.Task(&Attributes::Update).Remote(std::string("value1"), 10);
  counter.Task(&Attributes::Update).Remote(std::string("value2"), 20);
  value1 = *dray::Get(counter.Task(&Attributes::GetValue).Remote(std::string("value1")));
  value2 = *dray::Get(counter.Task(&Attributes::GetValue).Remote(std::string("value2")));
  r.output.push_back(Format("%d %d", value1, value2));
  c.Check(value1 == 10 && value2 == 20, Format("got %d %d, expected 10 20", value1, value2));
  r.summary = "getter and setter: " + r.output[0] + ", then " + r.output[1];
  r.timings_s["duration"] = Seconds(dray::Now() - start);
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
