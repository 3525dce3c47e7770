// SPDX-License-Identifier: MIT
// `synack decode FILE`: the TCP connections of a pcap/pcapng capture, each as a timeline with
// relative numbers, options, analysis and both ends' inferred RFC 9293 states.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "decode/decode.hpp"
#include "observe/ladder_svg.hpp"
#include "synack/pcap.hpp"

namespace synack::cli {
using namespace synack::capture;
using namespace synack::decode;
using namespace synack::observe;

namespace {

struct DecodeArgs {
  std::string file;
  std::string svg;
  int connection = 0;
  bool json = false;
  bool ladder = false;
  bool ascii = false;
  bool no_color = false;
  int width = 0;
};

struct DecodedCapture {
  std::vector<DecodedConnection> connections;
  PcapReaderStats link;
  std::uint64_t not_tcp = 0;
  std::uint64_t unparsable = 0;  // IP or TCP header malformed (or an IPv4 fragment)
  int dlt = 0;
  std::string warning;
};

std::optional<DecodedCapture> read_capture(const std::string& path, std::string* error) {
  auto reader = PcapReader::open(path, error);
  if (!reader) return std::nullopt;
  DecodedCapture out;
  out.dlt = reader->link_type();
  ConnectionTracker tracker;
  while (auto packet = reader->next()) {
    auto segment = wire_segment_from_ip(packet->ip, packet->unix_us, packet->frame_number);
    if (segment) {
      tracker.add(*segment);
    } else if (segment.error() == wire::ParseError::NotTcp) {
      ++out.not_tcp;
    } else {
      ++out.unparsable;
    }
  }
  out.link = reader->stats();
  out.warning = reader->error();
  out.connections = tracker.finish();
  return out;
}

// "out.svg" for one connection; "out-2.svg" style names when several are drawn.
std::string svg_path(const std::string& path, int number, bool several) {
  if (!several) return path;
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return path + "-" + std::to_string(number);
  return path.substr(0, dot) + "-" + std::to_string(number) + path.substr(dot);
}

int run_decode(const DecodeArgs& args) {
  std::string error;
  auto capture = read_capture(args.file, &error);
  if (!capture) {
    std::cerr << "synack decode: " << args.file << ": " << error << "\n";
    return 2;
  }
  std::vector<const DecodedConnection*> chosen;
  for (const auto& c : capture->connections)
    if (args.connection == 0 || c.number == args.connection) chosen.push_back(&c);
  if (args.connection != 0 && chosen.empty()) {
    std::cerr << "synack decode: no connection " << args.connection << " (the capture has "
              << capture->connections.size() << ")\n";
    return 2;
  }
  const auto& s = capture->link;
  std::string summary = std::to_string(s.frames) + " frames, " +
                        std::to_string(s.ip_packets - capture->not_tcp - capture->unparsable) +
                        " TCP segments, " + std::to_string(capture->connections.size()) +
                        (capture->connections.size() == 1 ? " connection" : " connections") +
                        "; skipped " + std::to_string(s.not_ip) + " non-IP, " +
                        std::to_string(capture->not_tcp) + " non-TCP, " +
                        std::to_string(s.malformed + capture->unparsable) + " malformed";
  if (s.truncated) summary += "; " + std::to_string(s.truncated) + " cut by the snap length";

  if (args.json) {
    nlohmann::ordered_json out;
    out["file"] = args.file;
    out["link_type"] = std::string(link_type_name(capture->dlt));
    out["frames"] = s.frames;
    out["not_ip"] = s.not_ip;
    out["not_tcp"] = capture->not_tcp;
    out["malformed"] = s.malformed + capture->unparsable;
    out["truncated"] = s.truncated;
    out["connections"] = nlohmann::ordered_json::array();
    for (const auto* connection : chosen) out["connections"].push_back(to_json(*connection));
    std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    const bool color = !args.no_color && isatty(STDOUT_FILENO);
    std::cout << args.file << ": " << link_type_name(capture->dlt) << ", " << summary << "\n";
    if (!capture->warning.empty()) std::cout << "warning: " << capture->warning << "\n";
    std::cout << "States are inferred as seen at the capture point: a segment is taken to arrive "
                 "when it is seen,\nunless the receiver's next segments show it arrived later or "
                 "was lost.\n";
    for (const auto* c : chosen) {
      std::cout << "\n";
      if (args.ladder) {
        TextRenderOptions render;
        render.unicode = !args.ascii;
        render.color = color;
        if (args.width > 0) render.width = args.width;
        std::cout << render_text(to_ladder(*c), render);
      } else {
        TableOptions table;
        table.unicode = !args.ascii;
        table.color = color;
        std::cout << render_table(*c, table);
      }
    }
  }
  if (!args.svg.empty()) {
    for (const auto* c : chosen) {
      std::string path = svg_path(args.svg, c->number, chosen.size() > 1);
      std::ofstream f(path, std::ios::binary);
      f << render_svg(to_ladder(*c));
      if (!f) {
        std::cerr << "synack decode: cannot write " << path << "\n";
        return 2;
      }
      (args.json ? std::cerr : std::cout)
          << "ladder of connection " << c->number << " written to " << path << "\n";
    }
  }
  return 0;
}

}  // namespace

void register_decode(CLI::App& app) {
  auto args = std::make_shared<DecodeArgs>();
  auto* cmd = app.add_subcommand(
      "decode",
      "read a pcap/pcapng capture of any TCP traffic and show each connection's timeline with "
      "both ends' RFC 9293 states");
  cmd->add_option("file", args->file, "capture file (pcap or pcapng)")->required();
  cmd->add_option("--svg", args->svg,
                  "also draw the ladder as SVG to FILE (FILE-N.svg per connection when several)");
  cmd->add_option("--connection", args->connection, "only connection N (numbered from 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "print JSON instead of tables");
  cmd->add_flag("--ladder", args->ladder, "draw each connection as a text ladder, not a table");
  cmd->add_flag("--ascii", args->ascii, "draw with ASCII only");
  cmd->add_flag("--no-color", args->no_color, "no ANSI colours");
  cmd->add_option("--width", args->width, "width of a --ladder in columns");
  cmd->callback([args] { exit_status() = run_decode(*args); });
}

}  // namespace synack::cli
