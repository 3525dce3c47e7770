// SPDX-License-Identifier: MIT
// Zero-copy access to a connection's buffers (Stack::receive_with, Stack::send_with): code
// that moves bytes between a connection and a file descriptor (a relay, a proxy) reads from
// and writes into the connection's own rings, instead of through a buffer of its own.
#pragma once

#include <cstddef>
#include <functional>
#include <span>

namespace synack {

// Called with in-order received bytes where they lie in the receive buffer (at most two calls
// per receive_with: the ring may wrap). Returns how many it consumed; fewer than offered ends
// the call, and what was not consumed stays for the next one.
using BufferReader = std::function<std::size_t(std::span<const std::byte> bytes)>;

// Called with free space in the send buffer (at most two calls per send_with: the ring may
// wrap). Writes there and returns how many bytes it wrote; fewer than offered ends the call.
// Sets `last` to say no data will follow: the FIN is sent after these bytes, on the same
// segment as the last of them when it fits (as send_last).
using BufferWriter = std::function<std::size_t(std::span<std::byte> space, bool& last)>;

}  // namespace synack
