// Parsing JSON that comes from files (config.json, the sharded-checkpoint index, safetensors
// headers) with a nesting limit. Internal to moerouter_io.
//
// nlohmann's parser is iterative, but dump() (which error messages use to show a bad value)
// recurses once per level: a hostile file holding a million '[' would overflow the stack the
// moment its value is shown. No file moerouter reads nests deeper than a few levels.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "moerouter/error.hpp"

namespace moerouter::io::detail {

inline constexpr int kMaxJsonDepth = 64;

// Whether a container opening at `depth` (0 = the root) goes past the limit.
inline bool json_too_deep(int depth, nlohmann::json::parse_event_t event) {
  return (event == nlohmann::json::parse_event_t::object_start ||
          event == nlohmann::json::parse_event_t::array_start) &&
         depth >= kMaxJsonDepth;
}

inline std::string json_depth_message() {
  return "bad JSON: expected at most " + std::to_string(kMaxJsonDepth) +
         " levels of nesting, got more";
}

// Throws Error(IoError) "<label>: bad JSON: ..." for malformed or too deeply nested JSON.
inline nlohmann::json parse_json(std::string_view text, const std::string& label) {
  const nlohmann::json::parser_callback_t limit = [&](int depth, nlohmann::json::parse_event_t event,
                                                      nlohmann::json&) {
    if (json_too_deep(depth, event)) fail(ErrorCode::IoError, label, ": ", json_depth_message());
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::IoError, label, ": bad JSON: ", e.what());
  }
}

}  // namespace moerouter::io::detail
