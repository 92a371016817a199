#pragma once
// Shared test helpers.
#include <gtest/gtest.h>

#include <string>

#include "tttlab/core/error.hpp"

namespace tttlab::test {

// Runs f and expects an InputError whose message contains `needle`.
template <typename F>
void expect_input_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no InputError, expected one containing '" << needle << "'";
  } catch (const tttlab::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace tttlab::test
