#include "real/recorder.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/proto/codec.h"
#include "core/proto/effects_hash.h"
#include "dray/errors.h"
#include "sim/trace.h"

namespace dray::real {

namespace {
// The loop waits for the writer when this much is queued: a bound on memory,
// reached only when the disk cannot keep up.
constexpr size_t kQueueMaxBytes = size_t{256} << 20;
constexpr std::chrono::milliseconds kBatchPeriod{20};
}  // namespace

std::unique_ptr<Recorder> Recorder::Open(const std::string& dir, const std::string& name,
                                         const std::map<std::string, std::string>& meta) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("dray: cannot record into " + dir + ": " + ec.message());
  std::unique_ptr<Recorder> r(new Recorder());
  r->path_ = dir + "/" + name + ".db";
  std::map<std::string, std::string> m = meta;
  m["kind"] = "real";
  m["dray_version"] = "0.1.0";
  m["pid"] = std::to_string(getpid());
  r->writer_ = sim::TraceWriter::Open(r->path_, m);
  r->thread_ = std::thread([p = r.get()] { p->WriterLoop(); });
  return r;
}

Recorder::~Recorder() {
  std::string err = Close();
  if (!err.empty()) std::fprintf(stderr, "dray: %s\n", err.c_str());
}

void Recorder::Push(Row r) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return;
  if (queued_bytes_ > kQueueMaxBytes) cv_.wait(lock, [this] { return queue_.empty() || closing_; });
  queued_bytes_ += r.payload.size();
  queue_.push_back(std::move(r));
  if (queued_bytes_ > kQueueMaxBytes / 2) cv_.notify_all();
}

void Recorder::Create(TimeNs t, const Addr& a, const char* component, std::string config) {
  Push(Row{seq_, t, a, component, "create", std::move(config), 0});
}

void Recorder::Step(TimeNs t, const Addr& a, const char* component, const Input& in,
                    const std::vector<Effect>& effects) {
  Push(Row{++seq_, t, a, component, sim::InputKind(in), EncodeInput(in), HashEffects(effects)});
}

void Recorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || closing_) return;
  uint64_t want = ++flush_asked_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return flush_done_ >= want || closed_; });
}

std::string Recorder::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_) {
      closing_ = true;
      cv_.notify_all();
    }
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Recorder::WriterLoop() {
  std::vector<Row> batch;
  uint64_t steps = 0;
  while (true) {
    bool closing = false;
    uint64_t flush = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Batches every kBatchPeriod (sooner when asked or when much is queued):
      // one wake-up and one commit per batch, whatever the step rate.
      cv_.wait_for(lock, kBatchPeriod,
                   [&] { return closing_ || flush_asked_ > flush_done_ || queued_bytes_ > kQueueMaxBytes / 2; });
      batch.swap(queue_);
      queued_bytes_ = 0;
      closing = closing_;
      flush = flush_asked_;
      cv_.notify_all();  // a Push waiting for room
    }
    // One transaction per batch: under load batches grow, so commits stay rare.
    for (const Row& r : batch) {
      if (std::string_view(r.kind) == "create") {
        writer_->Create(r.seq, r.t, r.addr, r.component, r.payload);
      } else {
        writer_->StepEncoded(r.seq, r.t, r.addr, r.component, r.kind, r.payload, r.effects_hash);
        ++steps;
      }
    }
    bool wrote = !batch.empty();
    batch.clear();
    if (closing) break;
    if (wrote) writer_->Commit();
    std::lock_guard<std::mutex> lock(mu_);
    flush_done_ = flush;
    cv_.notify_all();
  }
  std::string err;
  try {
    writer_->SetMeta("steps", std::to_string(steps));
    writer_->Close();
  } catch (const std::exception& e) {
    err = e.what();
  }
  std::lock_guard<std::mutex> lock(mu_);
  error_ = err;
  closed_ = true;
  cv_.notify_all();
}

}  // namespace dray::real
