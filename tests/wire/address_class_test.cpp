// SPDX-License-Identifier: MIT
// wire::classify and wire::embedded_v4 against the IANA special-purpose registries (RFC 6890,
// RFC 4291 §2.5.5, RFC 6052, RFC 3056): every form of the loopback is the loopback.
#include <gtest/gtest.h>

#include "wire/address_class.hpp"

namespace synack::wire {
namespace {

AddressClass of(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return classify(a.value_or(IpAddress{}));
}

TEST(AddressClass, Every_form_of_the_loopback_is_loopback) {
  for (const char* text : {"127.0.0.1", "127.255.255.254", "127.1.2.3", "::1", "::ffff:127.0.0.1",
                           "::ffff:127.9.9.9", "::127.0.0.1", "::ffff:0:127.0.0.1",
                           "64:ff9b::127.0.0.1", "2002:7f00:1::", "2002:7f00:1:ffff::1"})
    EXPECT_EQ(of(text), AddressClass::Loopback) << text;
}

TEST(AddressClass, Unspecified_in_every_form) {
  for (const char* text : {"0.0.0.0", "::", "::ffff:0.0.0.0", "::ffff:0:0.0.0.0"})
    EXPECT_EQ(of(text), AddressClass::Unspecified) << text;
  EXPECT_EQ(of("0.1.2.3"), AddressClass::ThisNetwork);
  EXPECT_EQ(of("::ffff:0.1.2.3"), AddressClass::ThisNetwork);
}

TEST(AddressClass, Multicast_broadcast_reserved_link_local) {
  EXPECT_EQ(of("224.0.0.1"), AddressClass::Multicast);
  EXPECT_EQ(of("239.255.255.255"), AddressClass::Multicast);
  EXPECT_EQ(of("ff02::1"), AddressClass::Multicast);
  EXPECT_EQ(of("::ffff:224.0.0.251"), AddressClass::Multicast);
  EXPECT_EQ(of("255.255.255.255"), AddressClass::Broadcast);
  EXPECT_EQ(of("::ffff:255.255.255.255"), AddressClass::Broadcast);
  EXPECT_EQ(of("240.0.0.1"), AddressClass::Reserved);
  EXPECT_EQ(of("169.254.169.254"), AddressClass::LinkLocal);
  EXPECT_EQ(of("fe80::1"), AddressClass::LinkLocal);
  EXPECT_EQ(of("febf::1"), AddressClass::LinkLocal);
  EXPECT_EQ(of("fec0::1"), AddressClass::Unicast);  // deprecated site-local: not link-local
}

TEST(AddressClass, Ordinary_addresses_are_unicast) {
  for (const char* text : {"198.18.0.1", "10.0.0.1", "192.0.2.7", "::ffff:198.18.0.5",
                           "fd53:796e:6163::1", "2001:db8::1", "64:ff9b::198.18.0.1",
                           "2002:c612:1::", "::2"})  // ::2 is ::0.0.0.2: not a v4 form
    EXPECT_EQ(of(text), AddressClass::Unicast) << text;
}

TEST(AddressClass, Embedded_v4_of_each_form) {
  auto v4 = IpAddress::v4(127, 0, 0, 1);
  for (const char* text : {"::ffff:127.0.0.1", "::127.0.0.1", "::ffff:0:127.0.0.1",
                           "64:ff9b::127.0.0.1", "2002:7f00:1::"})
    EXPECT_EQ(embedded_v4(*IpAddress::parse(text)), v4) << text;
  EXPECT_FALSE(embedded_v4(*IpAddress::parse("::1")));
  EXPECT_FALSE(embedded_v4(*IpAddress::parse("::")));
  EXPECT_FALSE(embedded_v4(*IpAddress::parse("fd00::7f00:1")));
  EXPECT_FALSE(embedded_v4(v4));
}

TEST(AddressClass, Martians_are_everything_but_unicast_and_link_local) {
  EXPECT_FALSE(is_martian(AddressClass::Unicast));
  EXPECT_FALSE(is_martian(AddressClass::LinkLocal));
  for (auto c : {AddressClass::Loopback, AddressClass::Unspecified, AddressClass::ThisNetwork,
                 AddressClass::Multicast, AddressClass::Broadcast, AddressClass::Reserved})
    EXPECT_TRUE(is_martian(c)) << to_string(c);
}

}  // namespace
}  // namespace synack::wire
