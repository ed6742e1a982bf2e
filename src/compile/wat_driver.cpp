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

#include "compile/driver.h"

namespace nil::compile {

namespace {

constexpr std::string_view kFileName = "function.wat";

class WatDriver final : public Driver {
 public:
  std::string_view language() const override { return "wat"; }

  Expected<std::string> compile(std::string_view source, const CompileOptions&) override {
    wabt::Errors errors;
    wabt::Features features;
    auto lexer = wabt::WastLexer::CreateBufferLexer(kFileName, source.data(), source.size(), &errors);
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
      std::string text = wabt::FormatErrorsToString(errors, wabt::Location::Type::Text, line_finder.get());
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
      return make_error(ErrorCode::kCompileError,
                        "module is larger than the artifact limit");
    }
    return std::string(source);
  }
};

}  // namespace

std::unique_ptr<Driver> make_wat_driver() { return std::make_unique<WatDriver>(); }
std::unique_ptr<Driver> make_wasm_driver() { return std::make_unique<WasmDriver>(); }

}  // namespace nil::compile
