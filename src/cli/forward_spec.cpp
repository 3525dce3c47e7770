// SPDX-License-Identifier: MIT
// Port-forward specifications: -p (podman/docker style) and -t/-u (pasta style).
#include "cli/forward_spec.hpp"

#include <charconv>
#include <set>

#include "wire/address_class.hpp"

namespace synack::cli {
namespace {

using relay::ForwardProtocol;
using relay::PortForward;
using Result = Expected<std::vector<PortForward>, std::string>;

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::size_t size() const { return std::size_t{last} - first + 1; }
};

Expected<std::uint16_t, std::string> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return Unexpected{"'" + std::string(text) + "' is not a port number"};
  if (value == 0 || value > 65535)
    return Unexpected{"port " + std::string(text) + " is outside 1..65535"};
  return static_cast<std::uint16_t>(value);
}

// "PORT" or "FIRST-LAST".
Expected<PortRange, std::string> parse_range(std::string_view text) {
  auto dash = text.find('-');
  auto first = parse_port(text.substr(0, dash));
  if (!first) return Unexpected{first.error()};
  if (dash == std::string_view::npos) return PortRange{*first, *first};
  auto last = parse_port(text.substr(dash + 1));
  if (!last) return Unexpected{last.error()};
  if (*last < *first) return Unexpected{"port range " + std::string(text) + " runs backwards"};
  return PortRange{*first, *last};
}

bool looks_like_range(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789-") == std::string_view::npos;
}

// A host socket binds a unicast, loopback or unspecified (every address) address; never
// multicast, broadcast or reserved ones (wire::classify).
Expected<wire::IpAddress, std::string> parse_bind_address(std::string_view text) {
  std::string_view bare = text;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  if (bare.find('%') != std::string_view::npos)
    return Unexpected{"'" + std::string(text) + "': interface names (%IFACE) are not supported"};
  auto addr = wire::IpAddress::parse(bare);
  if (!addr) return Unexpected{"'" + std::string(text) + "' is not an IPv4 or IPv6 address"};
  switch (wire::classify(*addr)) {
    case wire::AddressClass::Unicast:
    case wire::AddressClass::Loopback:
    case wire::AddressClass::Unspecified:
    case wire::AddressClass::LinkLocal:
      return *addr;
    default:
      return Unexpected{"'" + std::string(text) + "' cannot be bound (multicast or reserved)"};
  }
}

// host range -> guest range, one PortForward per port.
Result expand(const wire::IpAddress& addr, PortRange host, PortRange guest,
              ForwardProtocol protocol) {
  if (host.size() != guest.size()) {
    return Unexpected{"the host range has " + std::to_string(host.size()) +
                      " port(s) but the namespace's has " + std::to_string(guest.size()) +
                      "; give ranges of the same length"};
  }
  if (host.size() > kMaxForwardPorts)
    return Unexpected{"a range of " + std::to_string(host.size()) + " ports; at most " +
                      std::to_string(kMaxForwardPorts) + " per specification"};
  std::vector<PortForward> out;
  out.reserve(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) {
    PortForward f;
    f.host = wire::Endpoint{addr, static_cast<std::uint16_t>(host.first + i)};
    f.guest_port = static_cast<std::uint16_t>(guest.first + i);
    f.protocol = protocol;
    out.push_back(f);
  }
  return out;
}

const wire::IpAddress kDefaultBind = wire::IpAddress::v4(127, 0, 0, 1);

Result publish(std::string_view text) {
  ForwardProtocol protocol = ForwardProtocol::Tcp;
  if (auto slash = text.rfind('/'); slash != std::string_view::npos) {
    std::string_view proto = text.substr(slash + 1);
    if (proto == "udp")
      protocol = ForwardProtocol::Udp;
    else if (proto != "tcp")
      return Unexpected{"protocol '" + std::string(proto) + "': expected tcp or udp"};
    text = text.substr(0, slash);
  }
  auto last = text.rfind(':');
  if (last == std::string_view::npos)
    return Unexpected{std::string("expected HOSTPORT:PORT (the host port is not optional)")};
  auto guest = parse_range(text.substr(last + 1));
  if (!guest) return Unexpected{guest.error()};
  std::string_view host = text.substr(0, last);
  wire::IpAddress addr = kDefaultBind;
  std::string_view ports = host;
  if (!looks_like_range(host)) {
    auto split = host.rfind(':');
    if (split == std::string_view::npos)
      return Unexpected{"'" + std::string(host) + "' is not a port or port range"};
    if (host.front() != '[' && host.find(':') != split)
      return Unexpected{"IPv6 host address '" + std::string(host.substr(0, split)) +
                        "' must be in brackets: [ADDR]:HOSTPORT:PORT"};
    auto parsed = parse_bind_address(host.substr(0, split));
    if (!parsed) return Unexpected{parsed.error()};
    addr = *parsed;
    ports = host.substr(split + 1);
  }
  auto host_range = parse_range(ports);
  if (!host_range) return Unexpected{host_range.error()};
  return expand(addr, *host_range, *guest, protocol);
}

Result pasta_spec(std::string_view spec, ForwardProtocol protocol) {
  if (spec == "auto" || spec == "all" || spec == "none" || spec.find('~') != std::string::npos)
    return Unexpected{"'" + std::string(spec) +
                      "': pasta's auto, all, none and ~exclusions are not supported; name "
                      "the ports"};
  wire::IpAddress addr = kDefaultBind;
  if (auto slash = spec.find('/'); slash != std::string_view::npos) {
    auto parsed = parse_bind_address(spec.substr(0, slash));
    if (!parsed) return Unexpected{parsed.error()};
    addr = *parsed;
    spec = spec.substr(slash + 1);
  }
  auto colon = spec.find(':');
  auto host = parse_range(spec.substr(0, colon));
  if (!host) return Unexpected{host.error()};
  PortRange guest = *host;
  if (colon != std::string_view::npos) {
    auto parsed = parse_range(spec.substr(colon + 1));
    if (!parsed) return Unexpected{parsed.error()};
    guest = *parsed;
  }
  return expand(addr, *host, guest, protocol);
}

}  // namespace

Result parse_publish(std::string_view text) {
  auto r = publish(text);
  if (!r) return Unexpected{"-p " + std::string(text) + ": " + r.error()};
  return r;
}

Result parse_pasta_ports(std::string_view text, ForwardProtocol protocol) {
  const std::string option = protocol == ForwardProtocol::Udp ? "-u " : "-t ";
  std::vector<PortForward> all;
  while (true) {
    auto comma = text.find(',');
    std::string_view spec = text.substr(0, comma);
    auto r = pasta_spec(spec, protocol);
    if (!r) return Unexpected{option + std::string(spec) + ": " + r.error()};
    all.insert(all.end(), r->begin(), r->end());
    if (all.size() > kMaxForwardPorts)
      return Unexpected{option + std::string(text) + ": more than " +
                        std::to_string(kMaxForwardPorts) + " ports"};
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return all;
}

std::string duplicate_forward(const std::vector<relay::PortForward>& forwards) {
  std::set<std::string> seen;
  for (const auto& f : forwards) {
    std::string key = (f.protocol == ForwardProtocol::Udp ? "udp " : "tcp ") + f.host.to_string();
    if (!seen.insert(key).second) return relay::describe(f) + " is given twice";
  }
  return {};
}

Expected<std::vector<PortForward>, std::string> parse_forwards(
    const std::vector<std::string>& publish, const std::vector<std::string>& tcp_ports,
    const std::vector<std::string>& udp_ports) {
  std::vector<PortForward> all;
  for (const auto& text : publish) {
    auto f = parse_publish(text);
    if (!f) return Unexpected{f.error()};
    all.insert(all.end(), f->begin(), f->end());
  }
  for (auto [list, protocol] :
       {std::pair{&tcp_ports, ForwardProtocol::Tcp}, std::pair{&udp_ports, ForwardProtocol::Udp}}) {
    for (const auto& text : *list) {
      auto f = parse_pasta_ports(text, protocol);
      if (!f) return Unexpected{f.error()};
      all.insert(all.end(), f->begin(), f->end());
    }
  }
  if (auto twice = duplicate_forward(all); !twice.empty()) return Unexpected{twice};
  return all;
}

Expected<std::map<std::uint16_t, std::uint16_t>, std::string> parse_loopback_forwards(
    const std::vector<std::string>& specs) {
  std::map<std::uint16_t, std::uint16_t> out;
  for (const auto& text : specs) {
    // pasta's -T spec reads as -t's: the first port is the one listened on (here in CMD's
    // namespace), the second where the connection goes (here on the host).
    auto f = parse_pasta_ports(text, ForwardProtocol::Tcp);
    if (!f) return Unexpected{"-T" + f.error().substr(2)};
    for (const auto& forward : *f) {
      if (forward.host.addr != wire::IpAddress::v4(127, 0, 0, 1))
        return Unexpected{"-T " + text +
                          ": listens on CMD's loopback only (127.0.0.1/ or no ADDR/)"};
      if (!out.emplace(forward.host.port, forward.guest_port).second)
        return Unexpected{"-T " + text + ": port " + std::to_string(forward.host.port) +
                          " is given twice"};
      if (out.size() > kMaxForwardPorts)
        return Unexpected{"-T: more than " + std::to_string(kMaxForwardPorts) + " ports"};
    }
  }
  return out;
}

}  // namespace synack::cli
