// TEMPORARY placeholder while the trace implementation is written.
#include "sim/trace.h"
#include "dray/errors.h"
namespace dray::sim {
std::unique_ptr<TraceWriter> TraceWriter::Open(const std::string& path, const std::map<std::string, std::string>&) {
  throw Error("trace not implemented yet: " + path);
}
TraceWriter::~TraceWriter() = default;
void TraceWriter::Create(uint64_t, TimeNs, const Addr&, const char*, const std::string&) {}
void TraceWriter::Step(uint64_t, TimeNs, const Addr&, const char*, const Input&, uint64_t) {}
void TraceWriter::SetMeta(const std::string&, const std::string&) {}
void TraceWriter::Close() {}
ReplayResult Replay(const std::string&) { return {}; }
std::string WriteTimeline(const std::string&, const std::string&) { return "not implemented"; }
const char* InputKind(const Input&) { return ""; }
}
