// Access-list resolution, shared by every backend.
//
// Writes name users, groups and environments by id or by name; the store keeps ids. A backend
// supplies the lookups (inside its write transaction); this resolves a whole list before
// anything is written, so an unknown name fails the write with nothing changed
// (unknown_user / unknown_group / unknown_environment). A name given twice is kept once, at
// its first position. Reads return the lists in the order they were written.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace nil::store {

// The id of the row whose id or name is `ref` (an id match wins); nullopt when none.
using RefLookup = std::function<Expected<std::optional<std::string>>(std::string_view ref)>;

Expected<std::vector<std::string>> resolve_user_refs(const std::vector<std::string>& refs,
                                                     const RefLookup& lookup);
Expected<std::vector<std::string>> resolve_group_refs(const std::vector<std::string>& refs,
                                                      const RefLookup& lookup);
// Environments keep duplicates: an attachment list is ordered and a repeat is harmless.
Expected<std::vector<std::string>> resolve_environment_refs(const std::vector<std::string>& refs,
                                                            const RefLookup& lookup);

}  // namespace nil::store
