// Keyset paging (src/store/paging.h) on its own: the limit clamp, the look-ahead row, and a walk
// over a changing list with seq cursors, the way every backend's list_* pages.
#include "store/paging.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "store/cursor.h"

namespace nil::store {
namespace {

TEST(Paging, LimitIsClampedToOneThrough200) {
  EXPECT_EQ(clamp_limit(0), 1u);
  EXPECT_EQ(clamp_limit(1), 1u);
  EXPECT_EQ(clamp_limit(50), 50u);
  EXPECT_EQ(clamp_limit(200), 200u);
  EXPECT_EQ(clamp_limit(201), 200u);
  EXPECT_EQ(clamp_limit(UINT32_MAX), 200u);
  EXPECT_EQ(PageBuilder<int>(0).fetch_limit(), 2);
  EXPECT_EQ(PageBuilder<int>(1000).fetch_limit(), 201);
}

// One page of `table` (sorted seqs) after `cursor`, as a backend's SELECT ... WHERE seq > ?
// ORDER BY seq LIMIT fetch_limit would return it, then the builder loop of every list_*.
Page<int64_t> page_of(const std::vector<int64_t>& table, uint32_t limit,
                      const std::optional<std::string>& cursor_in) {
  auto after = cursor::decode_seq(cursor_in, cursor::kFunctions);
  EXPECT_TRUE(after.ok());
  PageBuilder<int64_t> out(limit);
  std::vector<int64_t> rows;
  for (int64_t seq : table) {
    if (seq > *after && static_cast<int64_t>(rows.size()) < out.fetch_limit()) rows.push_back(seq);
  }
  for (int64_t seq : rows) {
    if (out.full()) {
      out.more_after(cursor::encode_seq(cursor::kFunctions, out.items().back()));
      break;
    }
    out.add(seq);
  }
  return std::move(out).take();
}

TEST(Paging, ExactlyFullPageHasNoCursor) {
  std::vector<int64_t> table{1, 2, 3};
  auto p = page_of(table, 3, std::nullopt);
  EXPECT_EQ(p.items, table);
  EXPECT_FALSE(p.next_cursor) << "no row follows, so no next page";
  auto short_page = page_of(table, 2, std::nullopt);
  EXPECT_EQ(short_page.items, (std::vector<int64_t>{1, 2}));
  ASSERT_TRUE(short_page.next_cursor);
  auto last = page_of(table, 2, short_page.next_cursor);
  EXPECT_EQ(last.items, (std::vector<int64_t>{3}));
  EXPECT_FALSE(last.next_cursor);
  EXPECT_TRUE(page_of({}, 5, std::nullopt).items.empty());
}

TEST(Paging, AWalkSeesEveryStableRowOnceWhileRowsComeAndGo) {
  std::vector<int64_t> table;
  for (int64_t s = 1; s <= 20; ++s) table.push_back(s);
  int64_t next_seq = 21;
  std::set<int64_t> stable(table.begin(), table.end());
  std::vector<int64_t> seen;
  std::optional<std::string> c;
  int pages = 0;
  do {
    auto p = page_of(table, 3, c);
    seen.insert(seen.end(), p.items.begin(), p.items.end());
    c = p.next_cursor;
    // Between pages: delete the row just after the page, and append a new one.
    if (!p.items.empty()) {
      auto it = std::upper_bound(table.begin(), table.end(), p.items.back());
      if (it != table.end()) {
        stable.erase(*it);
        table.erase(it);
      }
    }
    table.push_back(next_seq++);
    ASSERT_LT(++pages, 100) << "the walk does not end";
  } while (c);
  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a row was returned twice";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (int64_t s : stable) EXPECT_TRUE(unique.count(s)) << "row " << s << " was skipped";
}

}  // namespace
}  // namespace nil::store
