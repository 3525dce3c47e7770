// SPDX-License-Identifier: MIT
// Typed errors of the public API: misuse and connection failures.
#pragma once

#include <cstdint>
#include <string_view>

namespace synack {

enum class Error : std::uint8_t {
  Ok,
  InvalidState,        // the call makes no sense in this state (e.g. receive on a listener)
  NotConnected,        // send before the connection is established and nothing can queue
  AlreadyConnected,    // connect on a socket that is not CLOSED
  IsListener,          // connect/send on a listening socket
  ShutDown,            // send after shutdown() or close(): "connection closing" (§3.10.2)
  AddressInUse,        // listen/bind on a port already taken
  NoPortsAvailable,    // ephemeral range exhausted for that destination
  NoSuchConnection,    // the handle does not name a live connection
  WouldBlock,          // buffer full (send) or empty (receive); try after the event
  ConnectionRefused,   // RST in answer to our SYN, or ICMP port unreachable
  ConnectionReset,     // RST on a synchronized connection
  TimedOut,            // retransmissions exhausted (RFC 9293 §3.8.3 R2) or user timeout
  ConnectionAborted,   // this side called abort()
  Unreachable,         // ICMP destination unreachable (not port)
  TooManyConnections,  // StackConfig::max_connections reached
  InvalidArgument,
};

constexpr std::string_view to_string(Error e) {
  switch (e) {
    case Error::Ok:
      return "ok";
    case Error::InvalidState:
      return "invalid state";
    case Error::NotConnected:
      return "not connected";
    case Error::AlreadyConnected:
      return "already connected";
    case Error::IsListener:
      return "socket is listening";
    case Error::ShutDown:
      return "connection closing";
    case Error::AddressInUse:
      return "address in use";
    case Error::NoPortsAvailable:
      return "no ephemeral ports available";
    case Error::NoSuchConnection:
      return "no such connection";
    case Error::WouldBlock:
      return "would block";
    case Error::ConnectionRefused:
      return "connection refused";
    case Error::ConnectionReset:
      return "connection reset";
    case Error::TimedOut:
      return "connection timed out";
    case Error::ConnectionAborted:
      return "connection aborted";
    case Error::Unreachable:
      return "destination unreachable";
    case Error::TooManyConnections:
      return "too many connections";
    case Error::InvalidArgument:
      return "invalid argument";
  }
  return "?";
}

}  // namespace synack
