#include "engine/instrument.h"

#include <memory>
#include <string>
#include <utility>

#include "wabt/apply-names.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/cast.h"
#include "wabt/binary-writer.h"
#include "wabt/error-formatter.h"
#include "wabt/generate-names.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/validator.h"

namespace nil::engine {
namespace {

constexpr const char* kTickFunc = "$nil_internal_tick";
constexpr const char* kGrowFunc = "$nil_internal_memory_grow";
constexpr const char* kTickType = "$nil_internal_tick_type";
constexpr const char* kGrowType = "$nil_internal_memory_grow_type";
constexpr const char* kFuelGlobal = "$nil_internal_fuel";

Error internal(std::string what, const wabt::Errors& errors) {
  std::string msg = what;
  std::string detail = wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary);
  if (!detail.empty()) msg += ": " + detail;
  return make_error(ErrorKind::kInternal, "instrumentation_failed", msg);
}

wabt::Var name_var(const char* name) { return wabt::Var(std::string_view(name), wabt::Location()); }

void add_func_type(wabt::Module& module, const char* name, wabt::TypeVector params,
                   wabt::TypeVector results) {
  auto type = std::make_unique<wabt::FuncType>(name);
  type->sig.param_types = std::move(params);
  type->sig.result_types = std::move(results);
  auto field = std::make_unique<wabt::TypeModuleField>();
  field->type = std::move(type);
  module.AppendField(std::move(field));
}

std::unique_ptr<wabt::ImportModuleField> make_import(std::string_view field_name,
                                                     const char* func_name, const char* type_name,
                                                     wabt::TypeVector params,
                                                     wabt::TypeVector results) {
  auto import = std::make_unique<wabt::FuncImport>(func_name);
  import->module_name = std::string(kInternalModule);
  import->field_name = std::string(field_name);
  import->func.decl.has_func_type = true;
  import->func.decl.type_var = name_var(type_name);
  import->func.decl.sig.param_types = std::move(params);
  import->func.decl.sig.result_types = std::move(results);
  return std::make_unique<wabt::ImportModuleField>(std::move(import));
}

// Instructions in a straight-line body: nested blocks/ifs/trys count, nested loops pay for
// themselves at their own header.
int32_t cost(const wabt::ExprList& exprs) {
  int64_t n = 0;
  for (const wabt::Expr& e : exprs) {
    ++n;
    switch (e.type()) {
      case wabt::ExprType::Block:
        n += cost(wabt::cast<wabt::BlockExpr>(&e)->block.exprs);
        break;
      case wabt::ExprType::If: {
        const auto* x = wabt::cast<wabt::IfExpr>(&e);
        n += cost(x->true_.exprs) + cost(x->false_);
        break;
      }
      case wabt::ExprType::Try: {
        const auto* x = wabt::cast<wabt::TryExpr>(&e);
        n += cost(x->block.exprs);
        for (const wabt::Catch& c : x->catches) n += cost(c.exprs);
        break;
      }
      default:
        break;
    }
    if (n > kFuelPerTick) return kFuelPerTick;
  }
  return static_cast<int32_t>(n < 1 ? 1 : n);
}

// fuel -= cost; if (fuel <= 0) fuel = tick();
void prepend_fuel_check(wabt::ExprList& exprs, int32_t amount) {
  wabt::ExprList check;
  check.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kFuelGlobal)));
  check.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(amount)));
  check.push_back(std::make_unique<wabt::BinaryExpr>(wabt::Opcode::I32Sub));
  check.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kFuelGlobal)));
  check.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kFuelGlobal)));
  check.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(0)));
  check.push_back(std::make_unique<wabt::CompareExpr>(wabt::Opcode::I32LeS));
  auto refill = std::make_unique<wabt::IfExpr>();
  refill->true_.exprs.push_back(std::make_unique<wabt::CallExpr>(name_var(kTickFunc)));
  refill->true_.exprs.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kFuelGlobal)));
  check.push_back(std::move(refill));
  exprs.splice(exprs.begin(), check);
}

void rewrite(wabt::ExprList& exprs) {
  for (auto it = exprs.begin(); it != exprs.end(); ++it) {
    switch (it->type()) {
      case wabt::ExprType::Block:
        rewrite(wabt::cast<wabt::BlockExpr>(&*it)->block.exprs);
        break;
      case wabt::ExprType::Loop: {
        wabt::ExprList& body = wabt::cast<wabt::LoopExpr>(&*it)->block.exprs;
        rewrite(body);
        prepend_fuel_check(body, cost(body));
        break;
      }
      case wabt::ExprType::If: {
        auto* x = wabt::cast<wabt::IfExpr>(&*it);
        rewrite(x->true_.exprs);
        rewrite(x->false_);
        break;
      }
      case wabt::ExprType::Try: {
        auto* x = wabt::cast<wabt::TryExpr>(&*it);
        rewrite(x->block.exprs);
        for (wabt::Catch& c : x->catches) rewrite(c.exprs);
        break;
      }
      case wabt::ExprType::MemoryGrow: {
        auto call = std::make_unique<wabt::CallExpr>(name_var(kGrowFunc), it->loc);
        it = exprs.insert(exprs.erase(it), std::move(call));
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace

Expected<std::string> instrument_module(std::string_view wasm) {
  wabt::Features features;
  wabt::Errors errors;
  wabt::Module module;
  wabt::ReadBinaryOptions options(features, nullptr, false, true, false);
  if (wabt::Failed(wabt::ReadBinaryIr("module.wasm", wasm.data(), wasm.size(), options, &errors,
                                      &module))) {
    return internal("re-reading the module", errors);
  }
  if (wabt::Failed(wabt::GenerateNames(&module)) || wabt::Failed(wabt::ApplyNames(&module))) {
    return internal("naming the module", errors);
  }

  // New types go last: existing type indices do not move.
  add_func_type(module, kTickType, {}, {wabt::Type::I32});
  add_func_type(module, kGrowType, {wabt::Type::I32}, {wabt::Type::I32});

  // The two imports go first: every function index moves up by two, which ResolveNames fixes.
  auto grow = make_import(kMemoryGrowImport, kGrowFunc, kGrowType, {wabt::Type::I32},
                          {wabt::Type::I32});
  auto tick = make_import(kTickImport, kTickFunc, kTickType, {}, {wabt::Type::I32});
  wabt::Import* grow_import = grow->import.get();
  wabt::Import* tick_import = tick->import.get();
  module.fields.push_front(std::move(grow));
  module.fields.push_front(std::move(tick));
  module.imports.insert(module.imports.begin(), {tick_import, grow_import});
  module.funcs.insert(module.funcs.begin(), {&wabt::cast<wabt::FuncImport>(tick_import)->func,
                                             &wabt::cast<wabt::FuncImport>(grow_import)->func});
  module.num_func_imports += 2;
  module.func_bindings.clear();
  for (size_t i = 0; i < module.funcs.size(); ++i) {
    if (!module.funcs[i]->name.empty()) {
      module.func_bindings.emplace(module.funcs[i]->name,
                                   wabt::Binding(static_cast<wabt::Index>(i)));
    }
  }

  // The fuel: a new defined global appended last, so existing global indices do not move.
  auto fuel = std::make_unique<wabt::GlobalModuleField>(wabt::Location(), kFuelGlobal);
  fuel->global.type = wabt::Type::I32;
  fuel->global.mutable_ = true;
  fuel->global.init_expr.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(kFuelPerTick)));
  module.AppendField(std::move(fuel));

  for (size_t i = module.num_func_imports; i < module.funcs.size(); ++i) {
    wabt::Func* func = module.funcs[i];
    rewrite(func->exprs);
    prepend_fuel_check(func->exprs, cost(func->exprs));
  }

  if (wabt::Failed(wabt::ResolveNamesModule(&module, &errors)) ||
      wabt::Failed(wabt::ValidateModule(&module, &errors, wabt::ValidateOptions(features)))) {
    return internal("the instrumented module does not validate", errors);
  }
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(features, /*canonicalize_lebs=*/true,
                                         /*relocatable=*/false, /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &module, write_options))) {
    return internal("writing the instrumented module", errors);
  }
  const std::vector<uint8_t>& data = stream.output_buffer().data;
  return std::string(data.begin(), data.end());
}

}  // namespace nil::engine
