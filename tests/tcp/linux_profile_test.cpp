// TcpConfig fields that the Linux profile (synack::profiles::linux()) sets, each against the
// rule it follows, in virtual time.
#include <gtest/gtest.h>

#include "synack/profiles.hpp"
#include "harness.hpp"

#undef linux

namespace synack::tcp::test {
namespace {

class LinuxProfile : public Harness {};

// RFC 7323 §2.3: the shift is chosen for the buffer; window_scale_buffer names a larger one
// (Linux: tcp_rmem[2], 32 MiB on 6.x, shift 10), while the window offered stays the buffer.
TEST_F(LinuxProfile, Window_scale_follows_window_scale_buffer) {
  config.window_scale_buffer = 32u << 20;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  ASSERT_TRUE(syn.options.window_scale.has_value());
  EXPECT_EQ(*syn.options.window_scale, 10);
  wire::TcpOptions peer;
  peer.window_scale = 7;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 262144 >> 10});
}

TEST_F(LinuxProfile, Window_scale_buffer_smaller_than_the_buffer_changes_nothing) {
  config.window_scale_buffer = 1024;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  EXPECT_EQ(syn.options.window_scale, std::optional<std::uint8_t>(3));
}

TEST(Profiles, Rfc_is_the_default_config) {
  StackConfig rfc = profiles::rfc();
  StackConfig def;
  EXPECT_EQ(rfc.tcp.syn_retries, def.tcp.syn_retries);
  EXPECT_EQ(rfc.tcp.window_scale_buffer, 0u);
  EXPECT_EQ(rfc.tcp.msl, def.tcp.msl);
}

TEST(Profiles, Linux_makes_the_kernels_choices) {
  StackConfig l = profiles::linux();
  EXPECT_EQ(l.tcp.syn_retries, 6);
  EXPECT_EQ(l.tcp.window_scale_buffer, 32u << 20);
  EXPECT_EQ(l.tcp.msl, std::chrono::seconds(30));
  EXPECT_EQ(l.tcp.delayed_ack, std::chrono::milliseconds(40));
  EXPECT_EQ(l.tcp.initial_window_segments, 10u);
  EXPECT_FALSE(profiles::by_name("bsd").has_value());
}

}  // namespace
}  // namespace synack::tcp::test
