// SPDX-License-Identifier: MIT
// Helpers for tests that check pictures: is the SVG well-formed XML, does it render
// (rsvg-convert), and what colours are where in the rendered PNG (png_stats.py beside this file).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace synack::test {

inline bool have_tool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// A fresh directory for one test's files.
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("synack-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a shell command; returns its standard output and sets `status` to its exit status.
inline std::string run_command(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    if (status) *status = -1;
    return out;
  }
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int rc = pclose(pipe);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// Without xmllint: every tag closed in order, nothing but whitespace after the root.
inline bool tags_balanced(const std::string& xml, std::string& why) {
  std::vector<std::string> open;
  auto fail = [&](std::string reason) {
    why = std::move(reason);
    return false;
  };
  std::size_t i = 0;
  bool root_seen = false;
  while ((i = xml.find('<', i)) != std::string::npos) {
    if (xml.compare(i, 4, "<!--") == 0) {
      i = xml.find("-->", i);
      if (i == std::string::npos) return fail("unterminated comment");
      continue;
    }
    std::size_t end = xml.find('>', i);
    if (end == std::string::npos) return fail("unterminated tag");
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return fail("unexpected </" + name + ">");
      open.pop_back();
      continue;
    }
    if (open.empty() && root_seen) return fail("second root element");
    root_seen = true;
    if (tag.back() == '/') continue;
    open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
  }
  if (!open.empty()) return fail("<" + open.back() + "> never closed");
  return true;
}

// Well-formed XML: xmllint --noout when installed, else the balance check above.
inline bool well_formed_xml(const std::filesystem::path& path, std::string& why) {
  if (have_tool("xmllint")) {
    int status = 0;
    why = run_command("xmllint --noout " + quoted(path) + " 2>&1", &status);
    return status == 0;
  }
  return tags_balanced(read_file(path), why);
}

struct PixelCounts {
  long total = 0, nonwhite = 0, red = 0, green = 0, blue = 0, dark = 0, grey = 0;
};

struct PngStats {
  bool ok = false;
  std::string error;
  int width = 0, height = 0;
  PixelCounts all;
  std::vector<PixelCounts> boxes;
};

struct Box {
  double x0, y0, x1, y1;
};

inline std::filesystem::path png_stats_script() {
  return std::filesystem::path(SYNACK_TESTS_DIR) / "observe" / "png_stats.py";
}

// Decodes `png` with png_stats.py and counts colours in the whole picture and in each box.
inline PngStats png_stats(const std::filesystem::path& png, const std::vector<Box>& boxes = {}) {
  PngStats stats;
  std::string command = "python3 " + quoted(png_stats_script()) + " " + quoted(png);
  for (const Box& b : boxes)
    command += " " + std::to_string(static_cast<int>(b.x0)) + " " +
               std::to_string(static_cast<int>(b.y0)) + " " +
               std::to_string(static_cast<int>(b.x1)) + " " +
               std::to_string(static_cast<int>(b.y1));
  int status = 0;
  std::string out = run_command(command + " 2>&1", &status);
  if (status != 0) {
    stats.error = out;
    return stats;
  }
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word == "size") {
      words >> stats.width >> stats.height;
      continue;
    }
    if (word != "box") continue;
    std::string name;
    words >> name;
    PixelCounts c;
    std::map<std::string, long*> fields = {
        {"total", &c.total}, {"nonwhite", &c.nonwhite}, {"red", &c.red},  {"green", &c.green},
        {"blue", &c.blue},   {"dark", &c.dark},         {"grey", &c.grey}};
    while (words >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      auto f = fields.find(word.substr(0, eq));
      if (f != fields.end()) *f->second = std::stol(word.substr(eq + 1));
    }
    if (name == "all")
      stats.all = c;
    else
      stats.boxes.push_back(c);
  }
  stats.ok = stats.width > 0 && stats.boxes.size() == boxes.size();
  if (!stats.ok) stats.error = out;
  return stats;
}

// Renders an SVG file to PNG with rsvg-convert; returns "" or what went wrong.
inline std::string render_png(const std::filesystem::path& svg, const std::filesystem::path& png) {
  int status = 0;
  std::string out =
      run_command("rsvg-convert -o " + quoted(png) + " " + quoted(svg) + " 2>&1", &status);
  if (status != 0) return out.empty() ? "rsvg-convert failed" : out;
  return "";
}

#define SYNACK_REQUIRE_TOOL(name)                                           \
  do {                                                                      \
    if (!::synack::test::have_tool(name))                                   \
      GTEST_SKIP() << name << " is not installed (Debian: apt-get install " \
                   << (std::string(name) == "rsvg-convert" ? "librsvg2-bin" \
                       : std::string(name) == "dot"        ? "graphviz"     \
                                                           : name)                 \
                   << "); the picture is not checked";                      \
  } while (0)

}  // namespace synack::test
