// Placeholder until the source-language drivers land (issue 3): registers nothing.
#include "compile/worker.h"

namespace nil::compile {
void register_source_drivers(DriverRegistry&, const ToolchainConfig&) {}
}  // namespace nil::compile
