// kernel_bench — compute kernels (bench/kernels/*.c) natively and in each NIL tier, as ratios.
//
// Every kernel is one C source built twice by bench/CMakeLists.txt: with gcc -O2 into a native
// executable, and with clang-16 --target=wasm32-wasi -O2 (the C driver's flags) into a WASI
// command. Both read {"n": size} on stdin and write one JSON line on stdout; every tier's output
// must equal the native output byte for byte (after trimming), or the kernel counts as failed.
//
// Timing: the native binary runs as a process (spawn → exit, so its time includes ~1 ms of
// exec and libc start-up; the sizes keep that under a few percent); a tier runs in process, each
// run a fresh sandbox (`Sandbox::invoke`: instantiate + `_start` + tear-down); `prepare` (and a
// native tier's build) happens once and is reported, not timed into the runs. Medians of N runs.
// The interpreter is 100–300× slower, so it runs each kernel at a smaller size, and its ratio is
// taken against native at that same size.
//
// Adding a tier: one more entry in `make_tiers()` — a name, a Sandbox, a size (full or small),
// a repetition count and, if the tier needs one, a build step before prepare.
//
// Prints a table and writes the JSON given by --out (bench/results/kernels.json from bench/run).
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "compile/native_builder.h"
#include "engine/engine.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Kernel {
  const char* name;
  long n;        // full size: native and near-native tiers (~50–300 ms natively)
  long small_n;  // the interpreter's size (~10–25 ms natively, 1–3 s interpreted)
  long empty_n;  // a size that does almost nothing: the native process's start-up cost
  const char* what;
};

// Sizes measured on the 2-core development machine (gcc -O2): see bench/kernels/README.md.
const Kernel kKernels[] = {
    {"nbody", 1'000'000, 40'000, 0, "5-body orbits, float math"},
    {"fannkuch", 10, 9, 1, "permutations, pancake flips"},
    {"sha256", 32, 1, 0, "SHA-256 of n MiB"},
    {"matmul", 400, 160, 1, "n×n double matrix product"},
    {"json", 100, 4, 0, "JSON build/serialize/parse round trips"},
};

struct Options {
  std::string kernels_dir;
  std::string out;
  int reps = 5;        // native and near-native tiers
  int small_reps = 3;  // interpreter
  std::vector<std::string> only;
};

std::string trim(std::string s) {
  auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

std::string input_for(long n) { return "{\"n\":" + std::to_string(n) + "}"; }

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Run {
  bool ok = false;
  std::string output;  // trimmed stdout
  std::string error;
  double ms = 0;
};

// Runs `path` with `input` on stdin; the time is spawn to exit.
Run run_native(const std::string& path, const std::string& input) {
  Run r;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = 0;
  auto t0 = Clock::now();
  int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    r.error = path + ": " + std::strerror(rc);
    return r;
  }
  // The input is a few bytes: it fits the pipe, so writing before reading cannot deadlock.
  ssize_t w = write(in[1], input.data(), input.size());
  (void)w;
  close(in[1]);
  char buf[4096];
  for (ssize_t k; (k = read(out[0], buf, sizeof buf)) != 0;) {
    if (k < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.output.append(buf, static_cast<size_t>(k));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  r.output = trim(r.output);
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok) r.error = "exit status " + std::to_string(status) + ": " + r.output;
  return r;
}

// One NIL tier as the bench sees it.
struct Tier {
  std::string name;
  std::unique_ptr<nil::engine::Sandbox> sandbox;
  bool small = false;  // runs kernels at small_n
  int reps = 5;
  // Optional: turns the kernel's wasm into a prepared module another way (e.g. a native build
  // first); default: sandbox->prepare(wasm).
  std::function<nil::Expected<std::shared_ptr<const nil::engine::PreparedModule>>(
      const std::string& kernel, const std::string& wasm)>
      prepare;
};

std::vector<Tier> make_tiers(const Options& o) {
  std::vector<Tier> tiers;
  // The native tier: the same build nild runs in the background (wasm2c + gcc -O2 in the compile
  // sandbox), into a scratch directory, then loaded; the build is part of prepare_ms.
  auto native = nil::engine::make_native_sandbox();
  nil::engine::NativeSandbox* loader = native.get();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nil-kernel-bench-" + std::to_string(::getpid()));
  tiers.push_back(Tier{"native", std::move(native), false, o.reps,
                       [loader, dir](const std::string& kernel, const std::string& wasm)
                           -> nil::Expected<std::shared_ptr<const nil::engine::PreparedModule>> {
                         std::error_code ec;
                         std::filesystem::create_directories(dir, ec);
                         std::filesystem::path so = dir / (kernel + ".so");
                         NIL_TRY_VOID(nil::compile::build_native(wasm, so));
                         auto module = loader->load(so.string());
                         std::filesystem::remove(so, ec);  // loaded: the mapping outlives the file
                         std::filesystem::remove(dir,
                                                 ec);  // empty again: leave nothing behind in /tmp
                         return module;
                       }});
  tiers.push_back(
      Tier{"interpreter", nil::engine::make_interpreter_sandbox(), true, o.small_reps, {}});
  return tiers;
}

struct TierResult {
  std::string tier;
  long n = 0;
  bool ok = false;
  std::string error;
  double prepare_ms = 0;
  std::vector<double> ms;
  double native_ms = NAN;  // native median at the same n
  double ratio() const { return median(ms) / native_ms; }
};

struct KernelResult {
  const Kernel* kernel;
  std::string native_output;
  std::vector<double> native_ms;        // at n
  std::vector<double> native_small_ms;  // at small_n
  std::vector<double> native_empty_ms;  // at empty_n: spawn + libc start-up + exit
  std::string native_small_output;
  std::string error;
  std::vector<TierResult> tiers;
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `reps` native runs at n; fills output (the first run's) and times. False on failure.
bool time_native(const std::string& bin, long n, int reps, std::string& output,
                 std::vector<double>& ms, std::string& error) {
  for (int i = 0; i <= reps; ++i) {  // run 0 warms the page cache and is not counted
    Run r = run_native(bin, input_for(n));
    if (!r.ok) {
      error = "native: " + r.error;
      return false;
    }
    if (i == 0) {
      output = r.output;
      continue;
    }
    if (r.output != output) {
      error = "native output changed between runs";
      return false;
    }
    ms.push_back(r.ms);
  }
  return true;
}

TierResult run_tier(Tier& tier, const KernelResult& kr, const std::string& wasm) {
  const Kernel& k = *kr.kernel;
  TierResult tr;
  tr.tier = tier.name;
  tr.n = tier.small ? k.small_n : k.n;
  tr.native_ms = median(tier.small ? kr.native_small_ms : kr.native_ms);
  const std::string& expected = tier.small ? kr.native_small_output : kr.native_output;
  auto t0 = Clock::now();
  auto module = tier.prepare ? tier.prepare(k.name, wasm) : tier.sandbox->prepare(wasm);
  tr.prepare_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!module) {
    tr.error = "prepare: " + module.error().message;
    return tr;
  }
  const std::string input = input_for(tr.n);
  nil::engine::Invocation inv;
  inv.input = input;
  inv.limits.timeout_ms = 600'000;
  inv.limits.memory_mb = 256;
  inv.args = {k.name};
  for (int i = 0; i < tier.reps; ++i) {
    nil::engine::Result r = tier.sandbox->invoke(**module, inv);
    if (!r.succeeded) {
      tr.error = r.failure ? r.failure->type + ": " + r.failure->message : "failed";
      return tr;
    }
    if (trim(r.output) != expected) {
      tr.error = "output differs from native: " + trim(r.output) + " vs " + expected;
      return tr;
    }
    tr.ms.push_back(std::chrono::duration<double, std::milli>(r.duration).count());
  }
  tr.ok = true;
  return tr;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string json_number(double d) {
  if (!std::isfinite(d)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", d);
  return b;
}

std::string json_array(const std::vector<double>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) o += ',';
    o += json_number(v[i]);
  }
  return o + "]";
}

double geomean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += std::log(x);
  return std::exp(s / static_cast<double>(v.size()));
}

std::string utc_now() {
  char b[32];
  std::time_t t = std::time(nullptr);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

int usage() {
  std::fprintf(stderr,
               "usage: kernel_bench --kernels DIR [--out FILE] [--reps N] [--small-reps N] [--only "
               "NAME]...\n"
               "  DIR holds NAME (native executable) and NAME.wasm for each kernel\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--kernels" && (v = next())) {
      o.kernels_dir = v;
    } else if (a == "--out" && (v = next())) {
      o.out = v;
    } else if (a == "--reps" && (v = next())) {
      o.reps = std::max(1, std::atoi(v));
    } else if (a == "--small-reps" && (v = next())) {
      o.small_reps = std::max(1, std::atoi(v));
    } else if (a == "--only" && (v = next())) {
      o.only.push_back(v);
    } else {
      return usage();
    }
  }
  if (o.kernels_dir.empty()) return usage();

  std::vector<Tier> tiers = make_tiers(o);
  std::vector<KernelResult> results;
  bool all_ok = true;
  for (const Kernel& k : kKernels) {
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), k.name) == o.only.end())
      continue;
    KernelResult kr;
    kr.kernel = &k;
    const std::string bin = o.kernels_dir + "/" + k.name;
    std::fprintf(stderr, "%s: native n=%ld and n=%ld ...\n", k.name, k.n, k.small_n);
    bool native_ok =
        time_native(bin, k.n, o.reps, kr.native_output, kr.native_ms, kr.error) &&
        time_native(bin, k.small_n, o.reps, kr.native_small_output, kr.native_small_ms, kr.error);
    std::string empty_output;
    native_ok = native_ok &&
                time_native(bin, k.empty_n, o.reps, empty_output, kr.native_empty_ms, kr.error);
    auto wasm = read_file(bin + ".wasm");
    if (native_ok && !wasm) {
      kr.error = "cannot read " + bin + ".wasm";
      native_ok = false;
    }
    if (native_ok) {
      for (Tier& t : tiers) {
        std::fprintf(stderr, "%s: %s n=%ld x%d ...\n", k.name, t.name.c_str(),
                     t.small ? k.small_n : k.n, t.reps);
        kr.tiers.push_back(run_tier(t, kr, *wasm));
        if (!kr.tiers.back().ok) {
          std::fprintf(stderr, "%s: %s FAILED: %s\n", k.name, t.name.c_str(),
                       kr.tiers.back().error.c_str());
        }
      }
    } else {
      std::fprintf(stderr, "%s: FAILED: %s\n", k.name, kr.error.c_str());
    }
    for (const auto& tr : kr.tiers) all_ok = all_ok && tr.ok;
    all_ok = all_ok && native_ok;
    results.push_back(std::move(kr));
  }

  // --- table ---
  std::printf("\n%-9s %9s %10s", "kernel", "n", "native ms");
  for (const Tier& t : tiers)
    std::printf(" | %-11s %7s %10s %10s %8s", t.name.c_str(), "n", "native ms", "tier ms", "×");
  std::printf("\n");
  std::vector<std::vector<double>> ratios(tiers.size());
  for (const auto& kr : results) {
    std::printf("%-9s %9ld %10.1f", kr.kernel->name, kr.kernel->n, median(kr.native_ms));
    for (size_t i = 0; i < tiers.size(); ++i) {
      if (i >= kr.tiers.size() || !kr.tiers[i].ok) {
        std::printf(" | %-11s %7s %10s %10s %8s", "", "", "", "FAILED", "");
        continue;
      }
      const TierResult& tr = kr.tiers[i];
      ratios[i].push_back(tr.ratio());
      std::printf(" | %-11s %7ld %10.1f %10.1f %7.2f×", "", tr.n, tr.native_ms, median(tr.ms),
                  tr.ratio());
    }
    std::printf("\n");
  }
  std::printf("%-9s %9s %10s", "geomean", "", "");
  for (size_t i = 0; i < tiers.size(); ++i)
    std::printf(" | %-11s %7s %10s %10s %7.2f×", "", "", "", "", geomean(ratios[i]));
  std::printf("\n");
  std::vector<double> startups;
  for (const auto& kr : results) startups.push_back(median(kr.native_empty_ms));
  std::printf(
      "(native times include the process's start-up and exit, median %.2f ms: a run at a trivial "
      "size)\n",
      median(startups));

  // --- JSON ---
  if (!o.out.empty()) {
    std::string j = "{\n  \"date\": " + json_string(utc_now()) + ",\n";
    j += "  \"host\": {\"cpus\": " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + "},\n";
    j += "  \"method\": \"native: gcc -O2 executable, spawn to exit; tiers: in process, fresh "
         "sandbox per run "
         "(instantiate + _start), prepare excluded; medians; ratio = tier median / native median "
         "at the same n\",\n";
    j += "  \"kernels\": [\n";
    for (size_t r = 0; r < results.size(); ++r) {
      const auto& kr = results[r];
      j += "    {\"name\": " + json_string(kr.kernel->name) +
           ", \"what\": " + json_string(kr.kernel->what) +
           ", \"n\": " + std::to_string(kr.kernel->n) +
           ", \"output\": " + json_string(kr.native_output) +
           ",\n     \"native_ms\": " + json_array(kr.native_ms) +
           ", \"native_median_ms\": " + json_number(median(kr.native_ms)) +
           ",\n     \"small_n\": " + std::to_string(kr.kernel->small_n) +
           ", \"native_small_ms\": " + json_array(kr.native_small_ms) +
           ", \"native_small_median_ms\": " + json_number(median(kr.native_small_ms)) +
           ",\n     \"native_startup_median_ms\": " + json_number(median(kr.native_empty_ms));
      if (!kr.error.empty()) j += ", \"error\": " + json_string(kr.error);
      j += ",\n     \"tiers\": {";
      for (size_t i = 0; i < kr.tiers.size(); ++i) {
        const TierResult& tr = kr.tiers[i];
        j += std::string(i ? ",\n" : "\n") + "       " + json_string(tr.tier) +
             ": {\"ok\": " + (tr.ok ? "true" : "false") + ", \"n\": " + std::to_string(tr.n) +
             ", \"prepare_ms\": " + json_number(tr.prepare_ms) + ", \"ms\": " + json_array(tr.ms) +
             ", \"median_ms\": " + json_number(median(tr.ms)) +
             ", \"native_median_ms\": " + json_number(tr.native_ms) +
             ", \"ratio\": " + json_number(tr.ok ? tr.ratio() : NAN);
        if (!tr.ok) j += ", \"error\": " + json_string(tr.error);
        j += "}";
      }
      j += "}}";
      j += r + 1 < results.size() ? ",\n" : "\n";
    }
    j += "  ],\n  \"geomean_ratio\": {";
    for (size_t i = 0; i < tiers.size(); ++i) {
      if (i) j += ", ";
      j += json_string(tiers[i].name) + ": " + json_number(geomean(ratios[i]));
    }
    j += "}\n}\n";
    std::ofstream f(o.out);
    f << j;
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", o.out.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", o.out.c_str());
  }
  return all_ok ? 0 : 1;
}
