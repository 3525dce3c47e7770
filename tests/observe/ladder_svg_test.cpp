// SPDX-License-Identifier: MIT
// Ladder diagrams as SVG and HTML: every scenario's picture is well-formed XML, renders (with
// rsvg-convert) to a sane, non-blank image, and shows what it should where it should: a red
// cross where lost-syn's SYN was lost, green SYN arrows, blue FIN arrows, a break for the 60 s
// of TIME-WAIT, labels that do not sit on each other.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "cli/commands.hpp"
#include "observe/ladder_svg.hpp"
#include "picture_check.hpp"
#include "sim/scenarios.hpp"

using namespace synack;
using namespace synack::cli;
using namespace synack::observe;
using namespace synack::sim;
using namespace synack::test;

namespace {

Ladder ladder_of(const std::string& name) {
  const Scenario* s = find_scenario(name);
  EXPECT_NE(s, nullptr) << name;
  if (!s) return {};
  auto result = run_scenario(*s, {});
  EXPECT_TRUE(result.ok) << name << ": " << result.summary;
  return result.ladder;
}

struct Mark {
  std::string classes;
  double x = 0, y = 0;
};

// The points the renderer marks for tests and tools: data-mid of every segment (the middle of
// its arrow) and data-at of every lost segment's cross.
std::vector<Mark> marks(const std::string& svg, const std::string& attribute) {
  std::vector<Mark> out;
  const std::string key = " " + attribute + "=\"";
  for (std::size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    std::size_t tag = svg.rfind('<', at);
    std::size_t cls = svg.find("class=\"", tag);
    Mark m;
    if (cls != std::string::npos && cls < at) {
      cls += 7;
      m.classes = svg.substr(cls, svg.find('"', cls) - cls);
    }
    std::size_t value = at + key.size();
    std::size_t comma = svg.find(',', value);
    m.x = std::stod(svg.substr(value, comma - value));
    m.y = std::stod(svg.substr(comma + 1));
    out.push_back(m);
  }
  return out;
}

// The number in the first `name="..."` after `from`.
double attribute_number(const std::string& svg, const std::string& name, std::size_t from = 0) {
  std::size_t at = svg.find(" " + name + "=\"", from);
  if (at == std::string::npos) return -1;
  return std::stod(svg.substr(at + name.size() + 3));
}

Box around(const Mark& m, double r) { return {m.x - r, m.y - r, m.x + r + 1, m.y + r + 1}; }

bool has_class(const Mark& m, const std::string& c) {
  return (" " + m.classes + " ").find(" " + c + " ") != std::string::npos;
}

}  // namespace

TEST(LadderSvg, EveryScenarioIsWellFormedSvgAndHtml) {
  auto dir = scratch_dir("svg-xml");
  for (const auto& scenario : all_scenarios()) {
    Ladder ladder = ladder_of(scenario.name);
    std::string svg = render_svg(ladder);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << scenario.name;
    EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
    // Both ends named at the top, every state change written.
    for (const auto& name : ladder.names)
      EXPECT_NE(svg.find(xml_escape(name)), std::string::npos) << scenario.name << " " << name;
    for (const auto& e : ladder.events) {
      if (e.kind != LadderEvent::Kind::State) continue;
      EXPECT_NE(svg.find(">" + std::string(to_string(e.state.to)) + "</text>"), std::string::npos)
          << scenario.name;
    }
    auto svg_path = dir / (scenario.name + ".svg");
    auto html_path = dir / (scenario.name + ".html");
    write_file(svg_path, svg);
    write_file(html_path, render_html(ladder));
    std::string why;
    EXPECT_TRUE(well_formed_xml(svg_path, why)) << scenario.name << ": " << why;
    EXPECT_TRUE(well_formed_xml(html_path, why)) << scenario.name << ".html: " << why;
  }
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, EveryScenarioRendersToASaneNonBlankPicture) {
  SYNACK_REQUIRE_TOOL("rsvg-convert");
  SYNACK_REQUIRE_TOOL("python3");
  auto dir = scratch_dir("svg-png");
  for (const auto& scenario : all_scenarios()) {
    auto svg = dir / (scenario.name + ".svg");
    auto png = dir / (scenario.name + ".png");
    write_file(svg, render_svg(ladder_of(scenario.name)));
    ASSERT_EQ(render_png(svg, png), "") << scenario.name;
    PngStats stats = png_stats(png);
    ASSERT_TRUE(stats.ok) << scenario.name << ": " << stats.error;
    EXPECT_GE(stats.width, 600) << scenario.name;
    EXPECT_LE(stats.width, 2400) << scenario.name;
    EXPECT_GE(stats.height, 250) << scenario.name;
    EXPECT_LE(stats.height, 6000) << scenario.name;  // the compressed time axis at work
    double ink = static_cast<double>(stats.all.nonwhite) / stats.all.total;
    EXPECT_GT(ink, 0.01) << scenario.name << ": nearly blank";
    EXPECT_LT(ink, 0.5) << scenario.name << ": mostly ink";
    EXPECT_GT(stats.all.dark, 500) << scenario.name << ": no timelines or text";
    EXPECT_GT(stats.all.green, 100) << scenario.name << ": no SYN arrow";
  }
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, LostSynIsARedCrossHalfwayWithALostLabel) {
  SYNACK_REQUIRE_TOOL("rsvg-convert");
  SYNACK_REQUIRE_TOOL("python3");
  Ladder ladder = ladder_of("lost-syn");
  std::string svg = render_svg(ladder);
  auto crosses = marks(svg, "data-at");
  ASSERT_EQ(crosses.size(), 1u);
  EXPECT_NE(svg.find(">lost</text>"), std::string::npos);
  auto segments = marks(svg, "data-mid");
  ASSERT_FALSE(segments.empty());
  // The cross is halfway between the timelines: where a segment's middle is.
  EXPECT_NEAR(crosses[0].x, segments[0].x, 1.0);

  auto dir = scratch_dir("svg-lost");
  write_file(dir / "lost-syn.svg", svg);
  ASSERT_EQ(render_png(dir / "lost-syn.svg", dir / "lost-syn.png"), "");
  // Red at the cross; no red well above or beside it (nothing else there is lost or reset).
  Box at = around(crosses[0], 8);
  Box left = {crosses[0].x - 160, crosses[0].y - 8, crosses[0].x - 120, crosses[0].y + 9};
  PngStats stats = png_stats(dir / "lost-syn.png", {at, left});
  ASSERT_TRUE(stats.ok) << stats.error;
  EXPECT_GT(stats.boxes[0].red, 25) << "no red cross where the SYN was lost";
  EXPECT_EQ(stats.boxes[1].red, 0);
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, SynArrowsAreGreenFinArrowsBlueAndNothingIsRedWithoutLossOrReset) {
  SYNACK_REQUIRE_TOOL("rsvg-convert");
  SYNACK_REQUIRE_TOOL("python3");
  std::string svg = render_svg(ladder_of("exchange"));
  auto segments = marks(svg, "data-mid");
  std::vector<Box> boxes;
  std::vector<std::string> kinds;
  for (const auto& m : segments) {
    if (has_class(m, "syn") || has_class(m, "fin")) {
      boxes.push_back(around(m, 3));
      kinds.push_back(has_class(m, "syn") ? "syn" : "fin");
    }
  }
  ASSERT_GE(kinds.size(), 4u);  // SYN, SYN+ACK, two FINs
  auto dir = scratch_dir("svg-colours");
  write_file(dir / "exchange.svg", svg);
  ASSERT_EQ(render_png(dir / "exchange.svg", dir / "exchange.png"), "");
  PngStats probe = png_stats(dir / "exchange.png");
  ASSERT_TRUE(probe.ok) << probe.error;
  // Everything above the legend (the last 40 pixels) is free of red: nothing was lost or reset.
  boxes.push_back({0, 0, static_cast<double>(probe.width), probe.height - 40.0});
  PngStats stats = png_stats(dir / "exchange.png", boxes);
  ASSERT_TRUE(stats.ok) << stats.error;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] == "syn")
      EXPECT_GT(stats.boxes[i].green, 2) << "SYN arrow " << i;
    else
      EXPECT_GT(stats.boxes[i].blue, 2) << "FIN arrow " << i;
  }
  EXPECT_EQ(stats.boxes.back().red, 0);
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, ResetArrowIsRed) {
  SYNACK_REQUIRE_TOOL("rsvg-convert");
  SYNACK_REQUIRE_TOOL("python3");
  std::string svg = render_svg(ladder_of("reset"));
  std::vector<Box> boxes;
  for (const auto& m : marks(svg, "data-mid"))
    if (has_class(m, "rst")) boxes.push_back(around(m, 3));
  ASSERT_EQ(boxes.size(), 1u);
  auto dir = scratch_dir("svg-rst");
  write_file(dir / "reset.svg", svg);
  ASSERT_EQ(render_png(dir / "reset.svg", dir / "reset.png"), "");
  PngStats stats = png_stats(dir / "reset.png", boxes);
  ASSERT_TRUE(stats.ok) << stats.error;
  EXPECT_GT(stats.boxes[0].red, 2);
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, RetransmissionsAreDashedAndSaySo) {
  std::string svg = render_svg(ladder_of("lost-syn"));
  std::size_t group = svg.find("<g class=\"segment syn retransmission\"");
  ASSERT_NE(group, std::string::npos);
  std::size_t dash = svg.find("stroke-dasharray", group);
  EXPECT_LT(dash, svg.find("</g>", group));
  EXPECT_NE(svg.find(">retransmission</tspan>"), std::string::npos);
}

TEST(LadderSvg, LongIdleGapsAreABreakNotAMinuteOfPaper) {
  std::string svg = render_svg(ladder_of("exchange"));
  EXPECT_NE(svg.find("… 60 s …"), std::string::npos);
  std::string lost = render_svg(ladder_of("lost-syn"));
  EXPECT_NE(lost.find("… 1 s …"), std::string::npos);  // the initial RTO
  EXPECT_LT(attribute_number(svg, "height", svg.find("<svg")), 1400);
}

TEST(LadderSvg, LabelsOfOneEndNeverShareALine) {
  // Each label hangs above its arrow from near the sender; two labels of the same end closer
  // than a line's height would overwrite each other.
  for (const auto& scenario : all_scenarios()) {
    std::string svg = render_svg(ladder_of(scenario.name));
    std::map<std::string, std::vector<double>> ys;
    const std::string key = "<g transform=\"translate(";
    for (std::size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
      std::size_t x = at + key.size();
      std::size_t y = svg.find(' ', x) + 1;
      std::size_t anchor = svg.find("text-anchor=\"", at) + 13;
      ys[svg.substr(anchor, svg.find('"', anchor) - anchor)].push_back(std::stod(svg.substr(y)));
    }
    EXPECT_FALSE(ys.empty()) << scenario.name;
    for (auto& [side, list] : ys) {
      std::sort(list.begin(), list.end());
      for (std::size_t i = 1; i < list.size(); ++i)
        EXPECT_GE(list[i] - list[i - 1], 24.0)
            << scenario.name << " " << side << " at y=" << list[i];
    }
  }
}

TEST(LadderSvg, HtmlPageIsSelfContainedWithTitleAndLegend) {
  Ladder ladder = ladder_of("simultaneous-close");
  std::string html = render_html(ladder);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>" + xml_escape(ladder.title)), std::string::npos);
  EXPECT_NE(html.find("<h1>"), std::string::npos);
  EXPECT_NE(html.find("class=\"legend\""), std::string::npos);
  EXPECT_NE(html.find("<svg xmlns"), std::string::npos);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_NE(html.find("CLOSING"), std::string::npos);
  // No external resources: no scripts, style sheets, images or fonts fetched from anywhere.
  for (const char* outside : {"<script", "<link", "<img", "@import", "url(", "src=", "href="})
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  std::size_t http = 0;
  while ((http = html.find("http", http)) != std::string::npos) {
    EXPECT_EQ(html.compare(http, 26, "http://www.w3.org/2000/svg"), 0) << html.substr(http, 40);
    ++http;
  }
}

TEST(LadderSvg, CaptureLadderWithoutArrivalTimesAndAwkwardNames) {
  // What `synack decode` hands over: one capture point, so no arrival times; names with
  // characters XML reserves; a note; an RST; a zero-delay corrupted segment.
  Ladder ladder;
  ladder.title = "capture <eth0> & friends";
  ladder.names[0] = "10.0.0.1:5555 <a&b>";
  ladder.names[1] = "[2001:db8::1]:443";
  ladder.add_state(0, instant_from_us(0), State::Closed, State::SynSent, "active OPEN / snd SYN");
  LadderSegment syn;
  syn.from = 0;
  syn.sent = instant_from_us(0);
  syn.flags = wire::tcp_flag::SYN;
  syn.window = 64240;
  ladder.add_segment(syn);
  LadderSegment rst;
  rst.from = 1;
  rst.sent = instant_from_us(250);
  rst.flags = wire::tcp_flag::RST | wire::tcp_flag::ACK;
  rst.has_ack = true;
  rst.ack = 1;
  rst.fate = SegmentFate::Corrupted;
  ladder.add_segment(rst);
  ladder.add_note(instant_from_us(300), "odd: \"quotes\" & <angles>");
  ladder.add_state(0, instant_from_us(90000000), State::SynSent, State::Closed,
                   "timeout=SYN retries / delete TCB");
  std::string svg = render_svg(ladder);
  EXPECT_NE(svg.find("10.0.0.1:5555 &lt;a&amp;b&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">corrupted</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"segment rst lost\""), std::string::npos);
  EXPECT_NE(svg.find("… 90 s …"), std::string::npos);
  auto dir = scratch_dir("svg-capture");
  write_file(dir / "capture.svg", svg);
  write_file(dir / "capture.html", render_html(ladder));
  std::string why;
  EXPECT_TRUE(well_formed_xml(dir / "capture.svg", why)) << why;
  EXPECT_TRUE(well_formed_xml(dir / "capture.html", why)) << why;
  if (have_tool("rsvg-convert")) {
    EXPECT_EQ(render_png(dir / "capture.svg", dir / "capture.png"), "");
  }
  // An empty ladder is still a picture.
  write_file(dir / "empty.svg", render_svg(Ladder{}));
  EXPECT_TRUE(well_formed_xml(dir / "empty.svg", why)) << why;
  std::filesystem::remove_all(dir);
}

TEST(LadderSvg, SimCommandWritesSvgAndHtml) {
  auto dir = scratch_dir("svg-cli");
  std::string svg = (dir / "out.svg").string(), html = (dir / "out.html").string();
  CLI::App app;
  register_sim(app);
  testing::internal::CaptureStdout();
  app.parse("sim lost-fin --svg " + svg + " --html " + html);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(exit_status(), 0) << out;
  std::string picture = read_file(svg);
  EXPECT_NE(picture.find("<svg"), std::string::npos);
  EXPECT_NE(picture.find("retransmission"), std::string::npos);
  EXPECT_NE(read_file(html).find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(out.find("picture written to " + svg), std::string::npos);
  std::filesystem::remove_all(dir);
}
