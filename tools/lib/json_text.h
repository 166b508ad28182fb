// Pieces of the tools' JSON reports (pcache_check --json,
// pcache_repair --json).
#pragma once

#include "damage.h"

#include <optional>
#include <string>

namespace pcache {

// A JSON string literal, quotes included.
std::string json_string(const std::string &s);

template <typename T>
std::string json_opt(const std::optional<T> &v)
{
	return v ? std::to_string(*v) : "null";
}

// The location fields of a damage record: "record":..,"replica":..,... (no braces).
std::string json_location_fields(const location &where);

} // namespace pcache
