// SPDX-License-Identifier: MIT
// RFC 2525 §2.17 ("Failure to RST on close with data pending"): closing a connection with
// received data unread sends an RST instead of the FIN — the peer learns the data was lost.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace close_unread_test {

// The shared wire (two_stacks.hpp), keeping the headers of what b sends.
struct Pair : two_stacks::Wire {
  std::vector<wire::TcpHeader> b_sent;
  Pair() {
    on_b = [this](std::span<const std::byte> packet) {
      if (auto p = wire::parse_tcp_packet(packet)) b_sent.push_back(p->tcp);
    };
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
};

TEST(CloseUnread, Close_with_unread_data_sends_only_rst) {
  Pair p;
  auto listener = p.b.listen({wire::IpAddress::v4(198, 18, 0, 2), 80}, p.now);
  ASSERT_TRUE(listener);
  auto c = p.a.connect({wire::IpAddress::v4(198, 18, 0, 2), 80}, p.now);
  ASSERT_TRUE(c);
  p.shuttle();
  auto s = p.b.accept(*listener);
  ASSERT_TRUE(s);
  std::string data = "unread";
  ASSERT_TRUE(p.a.send(*c, std::as_bytes(std::span(data)), p.now));
  p.shuttle();
  p.b_sent.clear();
  ASSERT_TRUE(p.b.close(*s, p.now));
  p.shuttle();
  ASSERT_FALSE(p.b_sent.empty());
  for (const auto& h : p.b_sent) EXPECT_FALSE(h.flags & tcp::FIN) << "no FIN before the RST";
  EXPECT_TRUE(p.b_sent.front().flags & tcp::RST);
  EXPECT_EQ(p.a.connection_error(*c), Error::ConnectionReset);
}

TEST(CloseUnread, Close_with_everything_read_sends_fin) {
  Pair p;
  auto listener = p.b.listen({wire::IpAddress::v4(198, 18, 0, 2), 80}, p.now);
  auto c = p.a.connect({wire::IpAddress::v4(198, 18, 0, 2), 80}, p.now);
  p.shuttle();
  auto s = p.b.accept(*listener);
  ASSERT_TRUE(s);
  p.b_sent.clear();
  ASSERT_TRUE(p.b.close(*s, p.now));
  p.shuttle();
  ASSERT_FALSE(p.b_sent.empty());
  EXPECT_TRUE(p.b_sent.front().flags & tcp::FIN);
  (void)c;
}

}  // namespace close_unread_test
}  // namespace synack
