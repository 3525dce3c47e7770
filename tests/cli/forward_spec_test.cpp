// SPDX-License-Identifier: MIT
// cli::parse_publish and cli::parse_pasta_ports: -p and -t/-u as podman and pasta users write
// them, ranges expanded, malformed specifications refused with a message naming the fault.
#include "cli/forward_spec.hpp"

#include <gtest/gtest.h>

namespace synack::cli {
namespace forward_spec_test {

using relay::ForwardProtocol;

wire::Endpoint ep(const char* addr, std::uint16_t port) {
  return wire::Endpoint{*wire::IpAddress::parse(addr), port};
}

TEST(ForwardSpec, Publish_short_form_binds_host_loopback_tcp) {
  auto r = parse_publish("8080:80");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].host, ep("127.0.0.1", 8080));
  EXPECT_EQ((*r)[0].guest_port, 80);
  EXPECT_EQ((*r)[0].protocol, ForwardProtocol::Tcp);
}

TEST(ForwardSpec, Publish_address_protocol_and_ipv6) {
  auto r = parse_publish("0.0.0.0:5353:53/udp");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)[0].host, ep("0.0.0.0", 5353));
  EXPECT_EQ((*r)[0].guest_port, 53);
  EXPECT_EQ((*r)[0].protocol, ForwardProtocol::Udp);
  auto v6 = parse_publish("[::1]:8080:80/tcp");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ((*v6)[0].host, ep("::1", 8080));
  EXPECT_EQ((*v6)[0].protocol, ForwardProtocol::Tcp);
  auto any6 = parse_publish("[::]:9000-9001:90-91/udp");
  ASSERT_TRUE(any6) << any6.error();
  ASSERT_EQ(any6->size(), 2u);
  EXPECT_EQ((*any6)[1].host, ep("::", 9001));
  EXPECT_EQ((*any6)[1].guest_port, 91);
}

TEST(ForwardSpec, Publish_range_expands_port_by_port) {
  auto r = parse_publish("127.0.0.1:8000-8010:9000-9010");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 11u);
  for (std::size_t i = 0; i < r->size(); ++i) {
    EXPECT_EQ((*r)[i].host, ep("127.0.0.1", static_cast<std::uint16_t>(8000 + i)));
    EXPECT_EQ((*r)[i].guest_port, 9000 + i);
  }
  auto top = parse_publish("65535-65535:1-1");
  ASSERT_TRUE(top) << top.error();
  EXPECT_EQ((*top)[0].host.port, 65535);
}

void expect_error(std::string_view spec, std::string_view words) {
  auto r = parse_publish(spec);
  ASSERT_FALSE(r) << spec << " parsed";
  EXPECT_NE(r.error().find(words), std::string::npos) << spec << ": " << r.error();
  EXPECT_EQ(r.error().rfind("-p ", 0), 0u) << r.error();
}

TEST(ForwardSpec, Publish_malformed_is_refused_with_the_reason) {
  expect_error("80", "host port is not optional");
  expect_error("8000-8010:80", "11 port(s) but the namespace's has 1");
  expect_error("8000-8001:80-82", "2 port(s) but the namespace's has 3");
  expect_error("8010-8000:8010-8000", "runs backwards");
  expect_error("0:80", "outside 1..65535");
  expect_error("8080:65536", "outside 1..65535");
  expect_error("8080:80/sctp", "expected tcp or udp");
  expect_error("8080:http", "not a port number");
  expect_error("80-:80", "not a port number");
  expect_error("::1:8080:80", "must be in brackets");
  expect_error("example.org:8080:80", "not an IPv4 or IPv6 address");
  expect_error("224.0.0.1:8080:80", "cannot be bound");
  expect_error("[fe80::1%eth0]:8080:80", "interface names");
  expect_error("", "host port is not optional");
  expect_error(":", "not a port number");
  expect_error("1-65535:1-65535", "at most 16384");
}

TEST(ForwardSpec, Pasta_ports_lists_ranges_and_defaults) {
  auto r = parse_pasta_ports("22,8000-8002:9000-9002,::1/53", ForwardProtocol::Udp);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].host, ep("127.0.0.1", 22));
  EXPECT_EQ((*r)[0].guest_port, 22);  // the guest port defaults to the host port
  EXPECT_EQ((*r)[3].host, ep("127.0.0.1", 8002));
  EXPECT_EQ((*r)[3].guest_port, 9002);
  EXPECT_EQ((*r)[4].host, ep("::1", 53));
  for (const auto& f : *r) EXPECT_EQ(f.protocol, ForwardProtocol::Udp);
  auto any = parse_pasta_ports("0.0.0.0/80-81", ForwardProtocol::Tcp);
  ASSERT_TRUE(any) << any.error();
  EXPECT_EQ((*any)[1].host, ep("0.0.0.0", 81));
  EXPECT_EQ((*any)[1].guest_port, 81);
}

TEST(ForwardSpec, Pasta_ports_refuses_what_it_does_not_support) {
  for (const char* spec : {"auto", "all", "none", "~22", "22,", "22:", "a/22", "22-20"}) {
    auto r = parse_pasta_ports(spec, ForwardProtocol::Tcp);
    EXPECT_FALSE(r) << spec;
    if (!r) {
      EXPECT_EQ(r.error().rfind("-t ", 0), 0u) << r.error();
    }
  }
  auto r = parse_pasta_ports("auto", ForwardProtocol::Udp);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().rfind("-u ", 0), 0u) << r.error();
}

TEST(ForwardSpec, Duplicates_are_named) {
  auto a = *parse_publish("8080:80");
  auto b = *parse_publish("8079-8081:90-92");
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(duplicate_forward(a), "tcp 127.0.0.1:8080 -> :91 is given twice");
  auto udp = *parse_publish("8080:80/udp");  // another protocol: no clash
  EXPECT_EQ(duplicate_forward({(*parse_publish("8080:80"))[0], udp[0]}), "");
}

// pasta's -T: ports on CMD's loopback, each to a host loopback port (the same by default).
TEST(ForwardSpec, Loopback_forwards_map_namespace_ports_to_host_ports) {
  auto r = parse_loopback_forwards({"5201", "8000-8001:9000-9001,127.0.0.1/22"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, (std::map<std::uint16_t, std::uint16_t>{
                    {22, 22}, {5201, 5201}, {8000, 9000}, {8001, 9001}}));
  auto none = parse_loopback_forwards({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ForwardSpec, Loopback_forwards_refuse_addresses_repeats_and_bad_specs) {
  auto expect_error = [](std::vector<std::string> specs, const char* part) {
    auto r = parse_loopback_forwards(specs);
    ASSERT_FALSE(r) << specs[0];
    EXPECT_EQ(r.error().rfind("-T", 0), 0u) << r.error();
    EXPECT_NE(r.error().find(part), std::string::npos) << r.error();
  };
  expect_error({"0.0.0.0/80"}, "loopback only");
  expect_error({"::1/80"}, "loopback only");
  expect_error({"80", "79-81"}, "given twice");
  expect_error({"auto"}, "not supported");
  expect_error({"0"}, "port");
}

}  // namespace forward_spec_test
}  // namespace synack::cli
