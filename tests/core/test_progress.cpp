#include <gtest/gtest.h>

#include "tttlab/core/progress.hpp"

TEST(FormatDuration, PicksUnits) {
  EXPECT_EQ(tttlab::format_duration(0.5), "500ms");
  EXPECT_EQ(tttlab::format_duration(4.25), "4.2s");
  EXPECT_EQ(tttlab::format_duration(83), "1m23s");
  EXPECT_EQ(tttlab::format_duration(7200 + 60 * 5), "2h05m");
  EXPECT_EQ(tttlab::format_duration(-1), "?");
}
