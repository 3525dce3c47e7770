// SPDX-License-Identifier: MIT
// One message with one descriptor attached (SCM_RIGHTS) over a Unix socket: how a child that
// entered a namespace hands its TUN back (os/netns_attach.cpp, relay/sandbox.cpp).
#pragma once

#include <cstddef>

namespace synack::os {

// Sends `size` bytes with `fd` attached; true when the whole message went.
bool send_with_descriptor(int sock, const void* data, std::size_t size, int fd);
// Receives exactly `size` bytes; *fd gets the attached descriptor (close-on-exec), or -1.
bool receive_with_descriptor(int sock, void* data, std::size_t size, int* fd);

}  // namespace synack::os
