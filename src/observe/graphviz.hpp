// SPDX-License-Identifier: MIT
// Graphviz DOT rendered in-process by libgvc (Graphviz's library, Debian libgraphviz-dev), so
// that `synack diagram` draws without the `dot` program. Its own static library
// (synack_graphviz), kept out of libsynack-link so that embedders do not inherit libgvc.
#pragma once

#include <string>

#include "synack/expected.hpp"

namespace synack::observe {

// Lays `dot` out with the dot engine and renders it as `format` ("svg", "png", "pdf", any
// format libgvc's plugins know). Not thread-safe (Graphviz keeps global state). Errors: the text is
// not valid DOT, the layout fails, or no plugin renders `format`; the message includes what
// Graphviz said.
Expected<std::string, std::string> render_graphviz(const std::string& dot,
                                                   const std::string& format = "svg");

}  // namespace synack::observe
