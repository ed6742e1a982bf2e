// validate_module: the user-visible check of an uploaded module against the host interface.
// It always sees the module as uploaded (never the instrumented one of instrument.cpp).
#include <cstdint>
#include <string>

#include "engine/engine.h"
#include "engine/host_interface.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/cast.h"
#include "wabt/error-formatter.h"
#include "wabt/ir.h"
#include "wabt/validator.h"

namespace nil::engine {
namespace {

Error invalid(ErrorCode code, std::string message) { return make_error(code, std::move(message)); }

char type_letter(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32:
      return 'i';
    case wabt::Type::I64:
      return 'I';
    case wabt::Type::F32:
      return 'f';
    case wabt::Type::F64:
      return 'F';
    default:
      return '?';  // v128, references: never part of the host interface
  }
}

std::string letters(const wabt::TypeVector& types) {
  std::string out;
  for (wabt::Type t : types) out += type_letter(t);
  return out;
}

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A name as it may be shown in an error message: printable ASCII as is, the rest \xNN.
std::string printable(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < name.size() && i < 80; ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (name.size() > 80) out += "...";
  return out;
}

Error bad_name(std::string_view what, std::string_view name) {
  return invalid(ErrorCode::kUnsafeName, std::string(what) + " name \"" + printable(name) +
                                             "\" is not allowed: names must be 1 to " +
                                             std::to_string(kMaxNameBytes) +
                                             " characters of A-Z a-z 0-9 _ . $ # : @ -");
}

// Reads an unsigned LEB128 u32 at `pos`; false if malformed or past the end.
bool read_u32(std::string_view bytes, size_t& pos, uint32_t& value) {
  value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.size()) return false;
    auto b = static_cast<uint8_t>(bytes[pos++]);
    value |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace

bool is_safe_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '$' || c == '#' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Expected<std::string> strip_custom_sections(std::string_view wasm) {
  constexpr size_t kHeader = 8;  // magic + version
  if (wasm.size() < kHeader) return invalid(ErrorCode::kInvalidWasm, "module too short");
  std::string out(wasm.substr(0, kHeader));
  size_t pos = kHeader;
  while (pos < wasm.size()) {
    size_t start = pos;
    auto id = static_cast<uint8_t>(wasm[pos++]);
    uint32_t size = 0;
    if (!read_u32(wasm, pos, size) || size > wasm.size() - pos) {
      return invalid(ErrorCode::kInvalidWasm,
                     "malformed section header at byte " + std::to_string(start));
    }
    pos += size;
    if (id != 0) out.append(wasm.substr(start, pos - start));
  }
  return out;
}

Expected<ModuleInfo> validate_module(std::string_view wasm) {
  wabt::Features features;  // wabt's defaults: the MVP plus finished proposals
  wabt::Errors errors;
  wabt::Module module;
  wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true,
                                  /*fail_on_custom_section_error=*/false);
  if (wasm.empty()) return invalid(ErrorCode::kInvalidWasm, "empty module");
  if (wabt::Failed(
          wabt::ReadBinaryIr("module.wasm", wasm.data(), wasm.size(), options, &errors, &module)) ||
      wabt::Failed(wabt::ValidateModule(&module, &errors, wabt::ValidateOptions(features)))) {
    std::string msg =
        trim_trailing_newlines(wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary));
    return invalid(ErrorCode::kInvalidWasm, msg.empty() ? "not a valid WebAssembly module" : msg);
  }

  // Names first: every later message may quote them.
  for (const wabt::Import* import : module.imports) {
    if (!is_safe_name(import->module_name)) return bad_name("import module", import->module_name);
    if (!is_safe_name(import->field_name)) return bad_name("import", import->field_name);
  }
  for (const wabt::Export* e : module.exports) {
    if (!is_safe_name(e->name)) return bad_name("export", e->name);
  }

  ModuleInfo info;
  bool imports_host = false;  // wasi_snapshot_preview1 or nil
  for (const wabt::Import* import : module.imports) {
    std::string qualified = import->module_name + "." + import->field_name;
    info.imports.push_back(qualified);
    const HostImport* row = find_host_import(import->module_name, import->field_name);
    if (!row || import->kind() != wabt::ExternalKind::Func) {
      return invalid(ErrorCode::kForbiddenImport,
                     "import " + qualified + " is not part of the host interface");
    }
    const auto* func = wabt::cast<wabt::FuncImport>(import);
    std::string params = letters(func->func.decl.sig.param_types);
    std::string results = letters(func->func.decl.sig.result_types);
    if (params != row->params || results != row->results) {
      return invalid(ErrorCode::kForbiddenImport, "import " + qualified + " has the signature " +
                                                      format_signature(params, results) +
                                                      "; the host interface has " +
                                                      format_signature(row->params, row->results));
    }
    // Host calls that take pointers need the memory they point into, exported as "memory".
    imports_host = true;
  }

  const wabt::Export* start = nullptr;
  const wabt::Export* memory = nullptr;
  for (const wabt::Export* e : module.exports) {
    info.exports.push_back(e->name);
    if (e->name == "_start") start = e;
    if (e->name == "memory") memory = e;
  }
  if (!start) return invalid(ErrorCode::kMissingExport, "the module does not export _start");
  if (start->kind != wabt::ExternalKind::Func) {
    return invalid(ErrorCode::kMissingExport, "_start is exported but is not a function");
  }
  const wabt::Func* start_func = module.GetFunc(start->var);
  if (!start_func || start_func->GetNumParams() != 0 || start_func->GetNumResults() != 0) {
    return invalid(ErrorCode::kMissingExport, "_start must have the type () -> ()");
  }
  if (imports_host && (!memory || memory->kind != wabt::ExternalKind::Memory)) {
    return invalid(ErrorCode::kMissingExport,
                   "a module that imports from wasi_snapshot_preview1 or nil must export its "
                   "memory as \"memory\"");
  }
  if (!module.memories.empty()) {
    info.initial_memory_pages = static_cast<uint32_t>(module.memories[0]->page_limits.initial);
  }
  return info;
}

}  // namespace nil::engine
