// WAT → wasm with libwabt's text parser. Diagnostics carry function.wat:line:column.
#include <wabt/binary-writer.h>
#include <wabt/error-formatter.h>
#include <wabt/feature.h>
#include <wabt/ir.h>
#include <wabt/resolve-names.h>
#include <wabt/stream.h>
#include <wabt/validator.h>
#include <wabt/wast-lexer.h>
#include <wabt/wast-parser.h>

#include <algorithm>
#include <exception>
#include <string>

#include "compile/driver.h"

namespace nil::compile {

namespace {

constexpr std::string_view kFileName = "function.wat";

// Where the source opens an annotation "(@…" outside strings and comments (lexed as wabt 1.0.32
// lexes them), or npos. Annotations are off; libwabt 1.0.32 then builds the error message for
// the annotation token from a bad length (Token::to_string: fuzz_wat found a std::length_error
// that ended nild; a smaller bad length would read out of bounds), so such a source never
// reaches the parser. With annotations on it would loop forever on an unclosed one instead.
size_t annotation_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {  // a string: a backslash takes the next byte with it
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
      }
      ++i;
    } else if (s.substr(i, 2) == ";;") {
      size_t nl = s.find('\n', i);
      i = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s.substr(i, 2) == "(;") {  // block comments nest
      int depth = 1;
      for (i += 2; i < s.size() && depth > 0;) {
        if (s.substr(i, 2) == "(;") {
          ++depth;
          i += 2;
        } else if (s.substr(i, 2) == ";)") {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      }
    } else if (s.substr(i, 2) == "(@") {
      return i;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

class WatDriver final : public Driver {
 public:
  std::string_view language() const override { return "wat"; }

  Expected<std::string> compile(std::string_view source, const CompileOptions& opts) override {
    // libwabt 1.0.32's text parser can throw (fuzz_wat: an annotation followed by an unclosed
    // string made Token::to_string build a string of negative length → std::length_error, which
    // ended nild from the compile worker). Nothing may escape into the worker thread.
    try {
      return compile_text(source, opts);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kCompileError,
                        std::string(kFileName) + ": the WAT parser failed (" + e.what() + ")");
    }
  }

 private:
  Expected<std::string> compile_text(std::string_view source, const CompileOptions&) {
    if (size_t at = annotation_at(source); at != std::string_view::npos) {
      size_t line = 1 + static_cast<size_t>(std::count(
                            source.begin(), source.begin() + static_cast<ptrdiff_t>(at), '\n'));
      size_t col =
          at - (source.rfind('\n', at) == std::string_view::npos ? 0 : source.rfind('\n', at) + 1) +
          1;
      return make_error(ErrorCode::kCompileError,
                        std::string(kFileName) + ":" + std::to_string(line) + ":" +
                            std::to_string(col) + ": error: annotations \"(@…\" are not supported");
    }
    wabt::Errors errors;
    wabt::Features features;
    auto lexer =
        wabt::WastLexer::CreateBufferLexer(kFileName, source.data(), source.size(), &errors);
    std::unique_ptr<wabt::Module> module;
    wabt::WastParseOptions parse_options(features);
    wabt::Result r = wabt::ParseWatModule(lexer.get(), &module, &errors, &parse_options);
    if (wabt::Succeeded(r)) r = wabt::ResolveNamesModule(module.get(), &errors);
    if (wabt::Succeeded(r)) {
      wabt::ValidateOptions vopts(features);
      r = wabt::ValidateModule(module.get(), &errors, vopts);
    }
    if (wabt::Failed(r)) {
      auto line_finder = lexer->MakeLineFinder();
      std::string text =
          wabt::FormatErrorsToString(errors, wabt::Location::Type::Text, line_finder.get());
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      if (text.empty()) text = "function.wat: invalid module";
      return make_error(ErrorCode::kCompileError, std::move(text));
    }
    wabt::MemoryStream stream;
    wabt::WriteBinaryOptions wopts;
    wopts.features = features;
    wopts.canonicalize_lebs = true;
    wopts.relocatable = false;
    wopts.write_debug_names = false;
    if (wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), wopts))) {
      return make_error(ErrorCode::kCompileError, "failed to encode the module");
    }
    const auto& data = stream.output_buffer().data;
    return std::string(reinterpret_cast<const char*>(data.data()), data.size());
  }
};

// Uploaded binaries: nothing to compile. The worker validates every artifact (whatever its
// language) against the engine's host interface, so this driver only checks the size.
class WasmDriver final : public Driver {
 public:
  std::string_view language() const override { return "wasm"; }
  Expected<std::string> compile(std::string_view source, const CompileOptions& opts) override {
    if (source.size() > opts.max_artifact_bytes) {
      return make_error(ErrorCode::kCompileError, "module is larger than the artifact limit");
    }
    return std::string(source);
  }
};

}  // namespace

std::unique_ptr<Driver> make_wat_driver() { return std::make_unique<WatDriver>(); }
std::unique_ptr<Driver> make_wasm_driver() { return std::make_unique<WasmDriver>(); }

}  // namespace nil::compile
