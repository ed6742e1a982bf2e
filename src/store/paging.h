// Keyset paging, shared by every backend.
//
// A list query asks for limit + 1 rows after the cursor's key: the extra row, never returned,
// tells that more follow, and the next cursor names the last row returned. The limit is clamped
// to 1..kMaxPageLimit (the API rejects 0 and > 200 before calling; the clamp keeps a direct
// caller from asking for an unbounded page).
//
//   PageBuilder<Function> page(request.limit);
//   query.bind(..., page.fetch_limit());
//   while (row) {
//     if (page.full()) { page.more_after(cursor::encode_seq(kind, last_seq)); break; }
//     page.add(read(row, &last_seq));
//   }
//   return std::move(page).take();
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "store/store.h"

namespace nil::store {

inline constexpr uint32_t kMaxPageLimit = 200;

inline uint32_t clamp_limit(uint32_t limit) {
  return std::clamp<uint32_t>(limit, 1, kMaxPageLimit);
}

template <typename T>
class PageBuilder {
 public:
  explicit PageBuilder(uint32_t requested_limit) : limit_(clamp_limit(requested_limit)) {}

  uint32_t limit() const { return limit_; }
  // How many rows to ask the database for: one more than a page.
  int64_t fetch_limit() const { return int64_t{limit_} + 1; }
  // The page holds `limit` items: a further row means more follow.
  bool full() const { return page_.items.size() >= limit_; }
  void add(T item) { page_.items.push_back(std::move(item)); }
  // A row past the page was seen; `cursor` names the last item's key.
  // clang-tidy-16 misses the move inside this template:
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void more_after(std::string cursor) { page_.next_cursor = std::move(cursor); }

  std::vector<T>& items() { return page_.items; }
  Page<T> take() && { return std::move(page_); }

 private:
  uint32_t limit_;
  Page<T> page_;
};

}  // namespace nil::store
