// DESIGN §3: the state machines in core/ read no clock, start no thread, open
// no socket and draw no randomness of their own. This scans every source
// under core/ (except the public API front core/api/ and the installed
// headers core/include/) and fails naming file:line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Rule {
  const char* what;
  std::regex re;
};

const std::vector<Rule>& Rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    auto add = [&](const char* what, const char* pattern) { r.push_back({what, std::regex(pattern)}); };
    add("includes <thread>", R"(^\s*#\s*include\s*<thread>)");
    add("includes <random>", R"(^\s*#\s*include\s*<random>)");
    add("includes <mutex>", R"(^\s*#\s*include\s*<mutex>)");
    add("includes <condition_variable>", R"(^\s*#\s*include\s*<condition_variable>)");
    add("includes <future>", R"(^\s*#\s*include\s*<future>)");
    add("includes <sys/socket.h>", R"(^\s*#\s*include\s*<sys/socket\.h>)");
    add("includes <unistd.h>", R"(^\s*#\s*include\s*<unistd\.h>)");
    add("reads a clock", R"(\b(steady_clock|system_clock|high_resolution_clock)\s*::\s*now\b)");
    add("uses std::random_device", R"(\brandom_device\b)");
    add("calls rand()", R"((^|[^\w.>:])(std\s*::\s*)?rand\s*\()");
    return r;
  }();
  return rules;
}

// Drops a // comment (good enough for our sources: no "//" inside strings
// on a line that also breaks a rule).
std::string StripLineComment(const std::string& line) {
  size_t p = line.find("//");
  return p == std::string::npos ? line : line.substr(0, p);
}

// Returns "file:line: what: text" for every violation in `text`.
std::vector<std::string> ScanText(const std::string& file, const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  bool in_block_comment = false;
  while (std::getline(in, line)) {
    ++n;
    std::string code;
    for (size_t i = 0; i < line.size();) {  // drop /* ... */ comments, across lines too
      if (in_block_comment) {
        size_t e = line.find("*/", i);
        if (e == std::string::npos) { i = line.size(); break; }
        in_block_comment = false;
        i = e + 2;
      } else {
        size_t b = line.find("/*", i);
        size_t c = line.find("//", i);
        if (b == std::string::npos || (c != std::string::npos && c < b)) {
          code += line.substr(i);
          break;
        }
        code += line.substr(i, b - i);
        in_block_comment = true;
        i = b + 2;
      }
    }
    code = StripLineComment(code);
    for (const auto& r : Rules())
      if (std::regex_search(code, r.re)) out.push_back(file + ":" + std::to_string(n) + ": " + r.what + ": " + line);
  }
  return out;
}

std::vector<fs::path> CoreSources(const fs::path& root) {
  std::vector<fs::path> files;
  const fs::path core = root / "core";
  for (const auto& e : fs::recursive_directory_iterator(core)) {
    if (!e.is_regular_file()) continue;
    fs::path rel = fs::relative(e.path(), root);
    std::string r = rel.generic_string();
    if (r.rfind("core/api/", 0) == 0 || r.rfind("core/include/", 0) == 0) continue;
    std::string ext = e.path().extension().string();
    if (ext == ".h" || ext == ".cc" || ext == ".hpp" || ext == ".cpp" || ext == ".inc") files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(CoreScan, CoreHasNoClockThreadSocketOrRandom) {
  const fs::path root = DRAY_SOURCE_DIR;
  std::vector<fs::path> files = CoreSources(root);
  // Guard against scanning the wrong place and passing vacuously.
  ASSERT_GE(files.size(), 10u) << "found too few sources under " << (root / "core");
  EXPECT_NE(std::find(files.begin(), files.end(), fs::path("core/owner/owner.cc")), files.end());
  std::vector<std::string> violations;
  for (const auto& f : files) {
    std::ifstream in(root / f, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << f;
    std::stringstream ss;
    ss << in.rdbuf();
    for (auto& v : ScanText(f.generic_string(), ss.str())) violations.push_back(std::move(v));
  }
  std::string all;
  for (const auto& v : violations) all += "\n  " + v;
  EXPECT_TRUE(violations.empty()) << "core/ must not reach clocks, threads, sockets or <random> (DESIGN §3):"
                                  << all;
}

TEST(CoreScan, DetectsEachKindOfViolation) {
  const char* bad[] = {
      "#include <thread>",
      "  #  include <random>",
      "#include <mutex>",
      "#include <condition_variable>",
      "#include <future>",
      "#include <sys/socket.h>",
      "#include <unistd.h>",
      "auto t = std::chrono::steady_clock::now();",
      "auto t = system_clock :: now();",
      "auto t = std::chrono::high_resolution_clock::now();",
      "std::random_device rd;",
      "int x = rand();",
      "int x = std::rand() % 6;",
  };
  for (const char* line : bad) {
    auto v = ScanText("core/x.cc", std::string("int a;\n") + line + "\n");
    ASSERT_EQ(v.size(), 1u) << "missed: " << line;
    EXPECT_EQ(v[0].rfind("core/x.cc:2: ", 0), 0u) << v[0];
  }
}

TEST(CoreScan, IgnoresCommentsAndLookalikes) {
  const char* fine[] = {
      "// never call rand() or std::random_device here",
      "/* steady_clock::now() */ int a;",
      "#include <chrono>",
      "#include <random_access_thing.h>",
      "TimeNs now = cx.now();",
      "uint64_t r = rng.Below(6); int operand(); srand(1);",
      "x.rand(); p->rand();",
  };
  for (const char* line : fine) EXPECT_TRUE(ScanText("core/y.cc", line).empty()) << line;
  // A block comment spanning lines hides what is inside it, and only that.
  auto v = ScanText("core/z.cc", "/*\n#include <thread>\n*/\n#include <mutex>\n");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rfind("core/z.cc:4: includes <mutex>", 0), 0u) << v[0];
}

}  // namespace
