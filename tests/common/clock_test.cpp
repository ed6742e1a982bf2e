#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace nil {
namespace {

using namespace std::chrono_literals;

TEST(ManualClockTest, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  const int64_t wall = clock.now_micros();
  const auto steady = clock.steady_now();
  std::this_thread::sleep_for(2ms);  // real time passes; the manual clock must not notice
  EXPECT_EQ(clock.now_micros(), wall);
  EXPECT_EQ(clock.steady_now(), steady);

  clock.advance(31min);
  EXPECT_EQ(clock.now_micros() - wall, int64_t{31} * 60 * 1'000'000);
  EXPECT_EQ(clock.steady_now() - steady, std::chrono::microseconds(int64_t{31} * 60 * 1'000'000));
}

TEST(ManualClockTest, WallStepLeavesSteadyAlone) {
  ManualClock clock(1'000);
  const auto steady = clock.steady_now();
  clock.set_wall_micros(5);  // the wall clock may go back (NTP); the steady one never does
  EXPECT_EQ(clock.now_micros(), 5);
  EXPECT_EQ(clock.steady_now(), steady);
}

TEST(SystemClockTest, ReadsTheMachineClocks) {
  const Clock& clock = SystemClock::instance();
  const int64_t a = clock.now_micros();
  const auto s1 = clock.steady_now();
  std::this_thread::sleep_for(1ms);
  EXPECT_GT(clock.steady_now(), s1);
  // Within a minute of std::chrono's own reading, and after 2026-01-01.
  const int64_t ref = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LT(std::llabs(ref - a), 60'000'000);
  EXPECT_GT(a, 1'767'225'600'000'000);
}

}  // namespace
}  // namespace nil
