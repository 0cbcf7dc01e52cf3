// Shared by the fuzz targets (tests/fuzz/fuzz_*.cpp). Each target defines LLVMFuzzerTestOneInput;
// libFuzzer links it with its own driver, the CI replay build with replay_main.cpp.
//
// The contract every target checks: for any input bytes, the code under test either succeeds or
// throws moerouter::Error. A crash, a sanitizer report, a failed check of the result or any other
// exception is a bug; `fuzz_bug` makes the last two abort, which libFuzzer reports as a crash
// and keeps the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "moerouter/error.hpp"

namespace moerouter::fuzz {

[[noreturn]] inline void fuzz_bug(const std::string& what) {
  std::fprintf(stderr, "fuzz: BUG: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define MOEROUTER_FUZZ_CHECK(cond, what)                                                    \
  do {                                                                                      \
    if (!(cond)) ::moerouter::fuzz::fuzz_bug(std::string("check failed: " #cond ": ") + (what)); \
  } while (0)

// Runs `body`; moerouter::Error is an expected outcome (bad input, said clearly), anything else
// a bug. Returns whether the body completed.
template <class Body>
bool expect_error_or_success(const char* stage, Body&& body) {
  try {
    body();
    return true;
  } catch (const moerouter::Error& e) {
    // The message must say something: an empty message is a bug in the error path.
    const std::string msg = e.what();
    if (msg.size() <= std::string(moerouter::to_string(e.code())).size() + 2)
      fuzz_bug(std::string(stage) + ": moerouter::Error with an empty message");
    return false;
  } catch (const std::exception& e) {
    fuzz_bug(std::string(stage) + ": unexpected exception (not moerouter::Error): " + e.what());
  } catch (...) {
    fuzz_bug(std::string(stage) + ": unexpected exception of unknown type");
  }
}

// Runs `body`, which must succeed: here even moerouter::Error is a bug.
template <class Body>
void must_succeed(const char* stage, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    fuzz_bug(std::string(stage) + ": must not throw, threw: " + e.what());
  } catch (...) {
    fuzz_bug(std::string(stage) + ": must not throw, threw an exception of unknown type");
  }
}

// Reads fixed-size values from the front of the input; past the end everything reads as zero.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  size_t left() const { return n_ - at_; }
  uint8_t u8() { return at_ < n_ ? p_[at_++] : 0; }
  // Little-endian; one statement per read (operand order is unspecified in C++).
  uint16_t u16() {
    const uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (u8() << 8));
  }
  uint32_t u32() {
    const uint32_t lo = u16();
    return lo | (static_cast<uint32_t>(u16()) << 16);
  }
  uint64_t u64() {
    const uint64_t lo = u32();
    return lo | (static_cast<uint64_t>(u32()) << 32);
  }
  const uint8_t* rest() const { return p_ + at_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

}  // namespace moerouter::fuzz
