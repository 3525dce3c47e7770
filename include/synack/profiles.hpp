// SPDX-License-Identifier: MIT
// Ready-made StackConfigs for the choices RFC 9293 leaves to an implementation.
//
//   synack::Stack stack(synack::profiles::linux(), {addr});
//
// rfc():   today's defaults (StackConfig{}), each field's comment in config.hpp says why.
// linux(): the choices the Linux kernel makes (6.x defaults), so that a peer or a test
//          written against Linux sees the same timers, options and retries. docs/
//          conformance.md lists what the profile does not (yet) match.
#pragma once

#include <optional>
#include <string_view>

#include "synack/config.hpp"

// GNU dialects predefine `linux` as a macro; the function below keeps that name.
#pragma push_macro("linux")
#undef linux

namespace synack::profiles {

StackConfig rfc();
StackConfig linux();
// The same as linux(), for code compiled where the `linux` macro is defined.
inline StackConfig linux_compatible() { return linux(); }
// "linux" or "rfc"; nullopt for any other name.
std::optional<StackConfig> by_name(std::string_view name);

}  // namespace synack::profiles

#pragma pop_macro("linux")
