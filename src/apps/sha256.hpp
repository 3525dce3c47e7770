// SPDX-License-Identifier: MIT
// SHA-256 for `synack serve`'s HTTP upload digests, computed by libcrypto (OpenSSL's EVP
// interface, which picks the CPU's SHA extensions where there are any).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

struct evp_md_ctx_st;

namespace synack::apps {

class Sha256 {
 public:
  // Throws std::bad_alloc when libcrypto cannot allocate a digest context.
  Sha256();
  void update(std::span<const std::byte> data);
  // The digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> finish();
  // finish() as 64 lowercase hex digits.
  std::string hex();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> context_;
};

}  // namespace synack::apps
