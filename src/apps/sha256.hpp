// SHA-256 (FIPS 180-4), for `synack serve`'s HTTP upload digests. Portable code runs at about
// 200 MB/s, slower than the stack; where the CPU has the SHA extensions (x86-64 SHA-NI) a
// second block function uses them (about 1.5 GB/s).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace synack::apps {

class Sha256 {
 public:
  // `allow_hardware` false forces the portable code (tests compare the two).
  explicit Sha256(bool allow_hardware = true);
  static bool hardware_available();
  void update(std::span<const std::byte> data);
  // The digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish();
  // finish() as 64 lowercase hex digits.
  std::string hex();

 private:
  void blocks(const std::uint8_t* p, std::size_t count);
  std::array<std::uint32_t, 8> h_;
  bool hardware_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

}  // namespace synack::apps
