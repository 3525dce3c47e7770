// SPDX-License-Identifier: MIT
// Ladder diagrams as pictures: an SVG drawing of a Ladder (two timelines, segments as slanted
// arrows, state changes in boxes beside each timeline) and a self-contained HTML page around it.
// `synack sim/demo --svg/--html` and `synack decode --svg` call these.
//
// Layout in brief: every send, arrival and state change gets a row; rows at the same instant
// share a line where they do not collide; time runs down on a compressed axis (a minimum gap
// per row, a little more for time that passes) and long idle gaps — a 60 s TIME-WAIT, a 1 s
// RTO — are drawn as a break "… 60 s …". Arrow labels run along the arrow on the sender's
// half, so the labels of crossing arrows never meet.
#pragma once

#include <string>

#include "observe/ladder.hpp"

namespace synack::observe {

struct SvgOptions {
  // Total width in pixels; 0 makes the picture as wide as its longest label needs (at least
  // about 900 px). A width too narrow for a label squeezes that label to fit.
  int width = 0;
  int row_gap = 34;          // pixels between two rows at the same instant
  double font_size = 11;     // arrow labels; the rest scales from it
  bool show_options = true;  // TCP options ("<mss 1460,ws 7,sackOK,ts>") on the arrows
  bool show_times = true;    // time labels (ms) in the left margin
  bool legend = true;        // a one-line key under the drawing
  std::string title;         // replaces ladder.title when not empty
};

// An SVG 1.1 document (UTF-8, no external resources) drawing `ladder`.
std::string render_svg(const Ladder& ladder, const SvgOptions& options = {});

// A self-contained HTML page: title, a short legend, the SVG inline and the text ladder.
std::string render_html(const Ladder& ladder, const SvgOptions& options = {});

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace synack::observe
