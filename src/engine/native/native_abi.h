// The contract between a native artifact (wasm2c output + the glue compile::build_native
// generates) and the runtime that loads it (native_runtime.cpp). Private to the engine and the
// builder.
//
// The artifact is self-contained: it defines every wasm_rt_* function wasm2c's code calls and
// every import (Z_<module>Z_<name>) as a forwarder through one table of function pointers the
// loader installs with nil_native_bind(). So the .so has no undefined symbols but libc's and
// libm's, the server binary exports nothing, and two artifacts never interpose each other
// (everything but the nil_native_* entry points is hidden).
//
// NIL_NATIVE_ABI_DECL is both compiled here (C++) and pasted as text into the generated glue (C):
// one definition of the table for both sides. Changing it means bumping kNativeAbiVersion.
#pragma once

#include <wasm-rt.h>

#define NIL_NATIVE_ABI_DECL                                                                    \
  typedef struct nil_native_runtime {                                                          \
    uint32_t abi_version;                                                                      \
    void (*trap)(wasm_rt_trap_t code);                                                         \
    uint32_t (*register_func_type)(uint32_t params, uint32_t results, const int* types);       \
    void (*allocate_memory)(wasm_rt_memory_t * mem, uint32_t initial, uint32_t max);           \
    uint32_t (*grow_memory)(wasm_rt_memory_t * mem, uint32_t delta);                           \
    void (*free_memory)(wasm_rt_memory_t * mem);                                               \
    void (*allocate_funcref_table)(wasm_rt_funcref_table_t * t, uint32_t n, uint32_t max);     \
    void (*free_funcref_table)(wasm_rt_funcref_table_t * t);                                   \
    uint32_t (*grow_funcref_table)(wasm_rt_funcref_table_t * t, uint32_t d,                    \
                                   wasm_rt_funcref_t init);                                    \
    void (*allocate_externref_table)(wasm_rt_externref_table_t * t, uint32_t n, uint32_t max); \
    void (*free_externref_table)(wasm_rt_externref_table_t * t);                               \
    uint32_t (*grow_externref_table)(wasm_rt_externref_table_t * t, uint32_t d,                \
                                     wasm_rt_externref_t init);                                \
    uint64_t (*host_call)(void* invocation, uint32_t host_call_id, const uint64_t* args);      \
  } nil_native_runtime;

#define NIL_NATIVE_STR2(...) #__VA_ARGS__
#define NIL_NATIVE_STR(...) NIL_NATIVE_STR2(__VA_ARGS__)

#ifdef __cplusplus
extern "C" {
#endif
NIL_NATIVE_ABI_DECL
#ifdef __cplusplus
}

namespace nil::engine::native {

inline constexpr const char* kAbiDeclText = NIL_NATIVE_STR(NIL_NATIVE_ABI_DECL);

// The artifact's entry points (visibility default), looked up with dlsym.
struct ArtifactEntryPoints {
  uint32_t (*abi)(void);                    // == kNativeAbiVersion
  void (*bind)(const nil_native_runtime*);  // before anything else
  size_t (*instance_size)(void);            // sizeof the wasm2c instance struct
  void (*init_module)(void);                // once per load
  void (*instantiate)(void* instance, void* invocation);
  void (*start)(void* instance);                // the export _start
  wasm_rt_memory_t* (*memory)(void* instance);  // the export "memory", or null
  void (*free_instance)(void* instance);
};

}  // namespace nil::engine::native
#endif
