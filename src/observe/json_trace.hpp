// SPDX-License-Identifier: MIT
// `--trace FILE`: every state transition (and, with segments on, every segment and drop) as
// one JSON object per line (written with nlohmann-json).
#pragma once

#include <cstdio>
#include <string>

#include "synack/trace.hpp"

namespace synack::observe {

class JsonTraceWriter final : public TraceSink {
 public:
  // Opens `path` for writing ("-" = standard output). ok() tells whether it worked.
  JsonTraceWriter(const std::string& path, bool segments);
  ~JsonTraceWriter() override;
  JsonTraceWriter(const JsonTraceWriter&) = delete;
  JsonTraceWriter& operator=(const JsonTraceWriter&) = delete;
  bool ok() const { return file_ != nullptr; }

  void on_transition(const TransitionEvent& e) override;
  void on_segment(const SegmentEvent& e) override;
  void on_drop(const DropEvent& e) override;

 private:
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  bool segments_;
};

}  // namespace synack::observe
