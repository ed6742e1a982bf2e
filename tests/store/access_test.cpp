// Access-list resolution (src/store/access.h) on its own: names and ids to ids, in order.
#include "store/access.h"

#include <gtest/gtest.h>

#include <map>

namespace nil::store {
namespace {

// A directory like a backend's users table: id → name.
RefLookup lookup_in(std::map<std::string, std::string> rows, int* calls = nullptr) {
  return [rows = std::move(rows),
          calls](std::string_view ref) -> Expected<std::optional<std::string>> {
    if (calls != nullptr) ++*calls;
    if (rows.count(std::string(ref))) return std::optional<std::string>(std::string(ref));
    for (const auto& [id, name] : rows) {
      if (name == ref) return std::optional<std::string>(id);
    }
    return std::optional<std::string>{};
  };
}

TEST(AccessLists, NamesAndIdsResolveToIdsInOrderOnceEach) {
  auto users = lookup_in({{"u1", "ada"}, {"u2", "bob"}, {"u3", "cy"}});
  auto ids = resolve_user_refs({"bob", "u1", "ada", "cy", "u2"}, users);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<std::string>{"u2", "u1", "u3"}));
  auto none = resolve_group_refs({}, users);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(AccessLists, AnUnknownNameFailsTheWholeListWithItsCode) {
  auto dir = lookup_in({{"u1", "ada"}});
  auto u = resolve_user_refs({"ada", "ghost"}, dir);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::kUnknownUser);
  EXPECT_EQ(http_status(u.error().code), 400);
  EXPECT_NE(u.error().message.find("ghost"), std::string::npos);
  EXPECT_EQ(resolve_group_refs({"ghost"}, dir).error().code, ErrorCode::kUnknownGroup);
  EXPECT_EQ(resolve_environment_refs({"ghost"}, dir).error().code, ErrorCode::kUnknownEnvironment);
}

TEST(AccessLists, EnvironmentsKeepRepeatsInOrder) {
  auto envs = lookup_in({{"e1", "base"}, {"e2", "prod"}});
  auto ids = resolve_environment_refs({"prod", "base", "e2"}, envs);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"e2", "e1", "e2"}));
}

TEST(AccessLists, ALookupFailureIsPassedOn) {
  RefLookup broken = [](std::string_view) -> Expected<std::optional<std::string>> {
    return make_error(ErrorCode::kStorageError, "disk on fire");
  };
  auto r = resolve_user_refs({"ada"}, broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorageError);
}

}  // namespace
}  // namespace nil::store
