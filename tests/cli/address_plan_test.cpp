// SPDX-License-Identifier: MIT
// cli::plan_from_cidr: --cidr lays addresses out as slirp4netns does (gateway .2, DNS .3,
// namespace .100) and refuses what cannot hold that layout, saying why.
#include "cli/address_plan.hpp"

#include <gtest/gtest.h>

namespace synack::cli {
namespace address_plan_test {

TEST(AddressPlan, Slirp4netnsDefaultLayout) {
  auto plan = plan_from_cidr("10.0.2.0/24");
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->gateway.to_string(), "10.0.2.2");
  EXPECT_EQ(plan->dns.to_string(), "10.0.2.3");
  EXPECT_EQ(plan->guest.to_string(), "10.0.2.100");
  EXPECT_EQ(plan->prefix, 24u);
  auto wide = plan_from_cidr("198.18.0.0/15");
  ASSERT_TRUE(wide) << wide.error();
  EXPECT_EQ(wide->guest.to_string(), "198.18.0.100");
  auto smallest = plan_from_cidr("198.18.5.128/25");
  ASSERT_TRUE(smallest) << smallest.error();
  EXPECT_EQ(smallest->guest.to_string(), "198.18.5.228");
}

void expect_error(std::string_view text, std::string_view words) {
  auto plan = plan_from_cidr(text);
  ASSERT_FALSE(plan) << text;
  EXPECT_NE(plan.error().find(words), std::string::npos) << plan.error();
  EXPECT_EQ(plan.error().rfind("--cidr ", 0), 0u) << plan.error();
}

TEST(AddressPlan, MalformedIsRefusedWithTheReason) {
  expect_error("10.0.2.5/24", "did you mean 10.0.2.0/24?");
  expect_error("10.0.2.0/26", "1 to 25");
  expect_error("10.0.2.0/0", "1 to 25");
  expect_error("10.0.2.0/33", "0 to 32");
  expect_error("10.0.2.0/x", "0 to 32");
  expect_error("10.0.2.0", "NETWORK/PREFIX");
  expect_error("fd00::/64", "NETWORK/PREFIX");
  expect_error("", "NETWORK/PREFIX");
}

}  // namespace address_plan_test
}  // namespace synack::cli
