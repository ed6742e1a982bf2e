#include "store/access.h"

#include <algorithm>

#include "store/errors.h"

namespace nil::store {
namespace {

Expected<std::vector<std::string>> resolve(const std::vector<std::string>& refs,
                                           const RefLookup& lookup, bool dedupe,
                                           Error (*unknown)(std::string_view)) {
  std::vector<std::string> ids;
  ids.reserve(refs.size());
  for (const auto& ref : refs) {
    auto id = NIL_TRY(lookup(ref));
    if (!id) return unknown(ref);
    if (dedupe && std::find(ids.begin(), ids.end(), *id) != ids.end()) continue;
    ids.push_back(std::move(*id));
  }
  return ids;
}

}  // namespace

Expected<std::vector<std::string>> resolve_user_refs(const std::vector<std::string>& refs,
                                                     const RefLookup& lookup) {
  return resolve(refs, lookup, /*dedupe=*/true, errors::unknown_user);
}

Expected<std::vector<std::string>> resolve_group_refs(const std::vector<std::string>& refs,
                                                      const RefLookup& lookup) {
  return resolve(refs, lookup, /*dedupe=*/true, errors::unknown_group);
}

Expected<std::vector<std::string>> resolve_environment_refs(const std::vector<std::string>& refs,
                                                            const RefLookup& lookup) {
  return resolve(refs, lookup, /*dedupe=*/false, errors::unknown_environment);
}

}  // namespace nil::store
