// The connection's congestion control, held in place (no allocation per connection): one
// of the algorithms, chosen by CongestionAlgorithm, used through the CongestionControl
// interface. A new algorithm joins the variant and make()'s switch.
#pragma once

#include <variant>

#include "tcp/congestion/cubic.hpp"
#include "tcp/congestion/new_reno.hpp"

namespace synack::tcp {

class AnyCongestionControl {
 public:
  AnyCongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss,
                       std::uint32_t initial_window_segments)
      : impl_(make(algorithm, mss, initial_window_segments)) {}

  CongestionControl* operator->() { return &get(); }
  const CongestionControl* operator->() const { return &get(); }
  CongestionControl& get() {
    return std::visit([](auto& cc) -> CongestionControl& { return cc; }, impl_);
  }
  const CongestionControl& get() const {
    return std::visit([](const auto& cc) -> const CongestionControl& { return cc; }, impl_);
  }

 private:
  using Impl = std::variant<Cubic, NewReno>;
  static Impl make(CongestionAlgorithm algorithm, std::uint32_t mss, std::uint32_t iw) {
    switch (algorithm) {
      case CongestionAlgorithm::NewReno:
        return NewReno(mss, iw);
      case CongestionAlgorithm::Cubic:
        break;
    }
    return Cubic(mss, iw);
  }
  Impl impl_;
};

}  // namespace synack::tcp
