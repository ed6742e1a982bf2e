#include "engine/instrument.h"

#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "wabt/apply-names.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/cast.h"
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
constexpr const char* kTableGrowFunc = "$nil_internal_table_grow";
constexpr const char* kTableGrowType = "$nil_internal_table_grow_type";
constexpr const char* kExhaustedFunc = "$nil_internal_stack_exhausted";
constexpr const char* kExhaustedType = "$nil_internal_stack_exhausted_type";
constexpr const char* kDepthGlobal = "$nil_internal_depth";
constexpr const char* kBodyLabel = "$nil_internal_body";
constexpr const char* kScratchGlobal = "$nil_internal_scratch";

Error internal(std::string what, const wabt::Errors& errors) {
  std::string msg = std::move(what);
  std::string detail = wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary);
  if (!detail.empty()) msg += ": " + detail;
  return make_error(ErrorCode::kInstrumentationFailed, msg);
}

wabt::Var name_var(const char* name) { return wabt::Var(std::string_view(name), wabt::Location()); }

void add_func_type(wabt::Module& module, const char* name, wabt::TypeVector params,
                   wabt::TypeVector results) {
  auto type = std::make_unique<wabt::FuncType>(name ? std::string_view(name) : std::string_view());
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

// fuel -= (top of stack) >> kBulkFuelShift; if (fuel <= 0) fuel = tick(); with the length (an
// i32 on top of the stack) left in place for the bulk instruction that follows.
void insert_bulk_charge(wabt::ExprList& exprs, wabt::ExprList::iterator before) {
  wabt::ExprList charge;
  charge.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kScratchGlobal)));
  charge.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kScratchGlobal)));
  charge.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kFuelGlobal)));
  charge.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kScratchGlobal)));
  charge.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(kBulkFuelShift)));
  charge.push_back(std::make_unique<wabt::BinaryExpr>(wabt::Opcode::I32ShrU));
  charge.push_back(std::make_unique<wabt::BinaryExpr>(wabt::Opcode::I32Sub));
  charge.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kFuelGlobal)));
  charge.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kFuelGlobal)));
  charge.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(0)));
  charge.push_back(std::make_unique<wabt::CompareExpr>(wabt::Opcode::I32LeS));
  auto refill = std::make_unique<wabt::IfExpr>();
  refill->true_.exprs.push_back(std::make_unique<wabt::CallExpr>(name_var(kTickFunc)));
  refill->true_.exprs.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kFuelGlobal)));
  charge.push_back(std::move(refill));
  exprs.splice(before, charge);
}

void rewrite(const wabt::Module& module, wabt::ExprList& exprs) {
  for (auto it = exprs.begin(); it != exprs.end(); ++it) {
    switch (it->type()) {
      case wabt::ExprType::Block:
        rewrite(module, wabt::cast<wabt::BlockExpr>(&*it)->block.exprs);
        break;
      case wabt::ExprType::Loop: {
        wabt::ExprList& body = wabt::cast<wabt::LoopExpr>(&*it)->block.exprs;
        rewrite(module, body);
        prepend_fuel_check(body, cost(body));
        break;
      }
      case wabt::ExprType::If: {
        auto* x = wabt::cast<wabt::IfExpr>(&*it);
        rewrite(module, x->true_.exprs);
        rewrite(module, x->false_);
        break;
      }
      case wabt::ExprType::Try: {
        auto* x = wabt::cast<wabt::TryExpr>(&*it);
        rewrite(module, x->block.exprs);
        for (wabt::Catch& c : x->catches) rewrite(module, c.exprs);
        break;
      }
      case wabt::ExprType::MemoryGrow: {
        auto call = std::make_unique<wabt::CallExpr>(name_var(kGrowFunc), it->loc);
        it = exprs.insert(exprs.erase(it), std::move(call));
        break;
      }
      case wabt::ExprType::MemoryFill:
      case wabt::ExprType::MemoryCopy:
      case wabt::ExprType::MemoryInit:
      case wabt::ExprType::TableFill:
      case wabt::ExprType::TableCopy:
      case wabt::ExprType::TableInit:
        insert_bulk_charge(exprs, it);
        break;
      case wabt::ExprType::TableGrow: {
        // [init, count] -> [init, table_grow(count, table)] -> table.grow
        wabt::Index table = module.GetTableIndex(wabt::cast<wabt::TableGrowExpr>(&*it)->var);
        exprs.insert(it, std::make_unique<wabt::ConstExpr>(wabt::Const::I32(table)));
        exprs.insert(it, std::make_unique<wabt::CallExpr>(name_var(kTableGrowFunc), it->loc));
        break;
      }
      case wabt::ExprType::Return: {
        // Leaves through the body block, so that the depth decrement after it runs.
        auto br = std::make_unique<wabt::BrExpr>(name_var(kBodyLabel), it->loc);
        it = exprs.insert(exprs.erase(it), std::move(br));
        break;
      }
      default:
        break;
    }
  }
}

// depth += 1; if (depth > kMaxCallDepth) stack_exhausted();
//   block $nil_internal_body (result <the function's results>) <body> end
// depth -= 1
void wrap_with_depth_count(wabt::Module& module, wabt::Func& func) {
  auto body = std::make_unique<wabt::BlockExpr>();
  body->block.label = kBodyLabel;
  body->block.decl.sig.result_types = func.decl.sig.result_types;
  if (func.decl.sig.result_types.size() > 1 &&
      module.GetFuncTypeIndex(body->block.decl.sig) == wabt::kInvalidIndex) {
    // A multi-value block type must exist as a function type ([] -> results) in the module.
    add_func_type(module, nullptr, {}, func.decl.sig.result_types);
  }
  body->block.exprs = std::move(func.exprs);

  wabt::ExprList out;
  out.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kDepthGlobal)));
  out.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(1)));
  out.push_back(std::make_unique<wabt::BinaryExpr>(wabt::Opcode::I32Add));
  out.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kDepthGlobal)));
  out.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kDepthGlobal)));
  out.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(kMaxCallDepth)));
  out.push_back(std::make_unique<wabt::CompareExpr>(wabt::Opcode::I32GtU));
  auto overflow = std::make_unique<wabt::IfExpr>();
  overflow->true_.exprs.push_back(std::make_unique<wabt::CallExpr>(name_var(kExhaustedFunc)));
  out.push_back(std::move(overflow));
  out.push_back(std::move(body));
  out.push_back(std::make_unique<wabt::GlobalGetExpr>(name_var(kDepthGlobal)));
  out.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(1)));
  out.push_back(std::make_unique<wabt::BinaryExpr>(wabt::Opcode::I32Sub));
  out.push_back(std::make_unique<wabt::GlobalSetExpr>(name_var(kDepthGlobal)));
  func.exprs = std::move(out);
}

void add_i32_global(wabt::Module& module, const char* name, int32_t initial) {
  auto global = std::make_unique<wabt::GlobalModuleField>(wabt::Location(), name);
  global->global.type = wabt::Type::I32;
  global->global.mutable_ = true;
  global->global.init_expr.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(initial)));
  module.AppendField(std::move(global));
}

}  // namespace

Expected<std::string> instrument_module(std::string_view wasm) {
  wabt::Features features;
  wabt::Errors errors;
  wabt::Module module;
  wabt::ReadBinaryOptions options(features, nullptr, false, true, false);
  if (wabt::Failed(
          wabt::ReadBinaryIr("module.wasm", wasm.data(), wasm.size(), options, &errors, &module))) {
    return internal("re-reading the module", errors);
  }
  if (wabt::Failed(wabt::GenerateNames(&module)) || wabt::Failed(wabt::ApplyNames(&module))) {
    return internal("naming the module", errors);
  }

  // New types go last: existing type indices do not move.
  add_func_type(module, kTickType, {}, {wabt::Type::I32});
  add_func_type(module, kGrowType, {wabt::Type::I32}, {wabt::Type::I32});
  add_func_type(module, kTableGrowType, {wabt::Type::I32, wabt::Type::I32}, {wabt::Type::I32});
  add_func_type(module, kExhaustedType, {}, {});

  // The imports go first: every function index moves up, which ResolveNames fixes.
  std::unique_ptr<wabt::ImportModuleField> imports[] = {
      make_import(kTickImport, kTickFunc, kTickType, {}, {wabt::Type::I32}),
      make_import(kMemoryGrowImport, kGrowFunc, kGrowType, {wabt::Type::I32}, {wabt::Type::I32}),
      make_import(kTableGrowImport, kTableGrowFunc, kTableGrowType,
                  {wabt::Type::I32, wabt::Type::I32}, {wabt::Type::I32}),
      make_import(kStackExhaustedImport, kExhaustedFunc, kExhaustedType, {}, {}),
  };
  std::vector<wabt::Import*> new_imports;
  std::vector<wabt::Func*> new_funcs;
  for (auto& field : imports) {
    new_imports.push_back(field->import.get());
    new_funcs.push_back(&wabt::cast<wabt::FuncImport>(field->import.get())->func);
  }
  for (auto it = std::rbegin(imports); it != std::rend(imports); ++it) {
    module.fields.push_front(std::move(*it));
  }
  module.imports.insert(module.imports.begin(), new_imports.begin(), new_imports.end());
  module.funcs.insert(module.funcs.begin(), new_funcs.begin(), new_funcs.end());
  module.num_func_imports += static_cast<wabt::Index>(new_funcs.size());
  module.func_bindings.clear();
  for (size_t i = 0; i < module.funcs.size(); ++i) {
    if (!module.funcs[i]->name.empty()) {
      module.func_bindings.emplace(module.funcs[i]->name,
                                   wabt::Binding(static_cast<wabt::Index>(i)));
    }
  }

  // New defined globals appended last, so existing global indices do not move.
  add_i32_global(module, kFuelGlobal, kFuelPerTick);
  add_i32_global(module, kScratchGlobal, 0);
  add_i32_global(module, kDepthGlobal, 0);

  for (size_t i = module.num_func_imports; i < module.funcs.size(); ++i) {
    wabt::Func* func = module.funcs[i];
    rewrite(module, func->exprs);
    prepend_fuel_check(func->exprs, cost(func->exprs));
    wrap_with_depth_count(module, *func);
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
