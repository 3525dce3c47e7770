// SPDX-License-Identifier: MIT
// IPv4 and IPv6 addresses as one value type: declared in the public header
// include/synack/address.hpp (the API names endpoints with them); defined in ip_address.cpp.
#pragma once

#include "synack/address.hpp"
