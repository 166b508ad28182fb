#include "json_text.h"

#include <cstdio>
#include <sstream>

namespace pcache {

std::string json_string(const std::string &s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		default:
			if (c < 0x20) {
				char buf[8];
				std::snprintf(buf, sizeof(buf), "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	return out + "\"";
}

std::string json_location_fields(const location &where)
{
	std::ostringstream o;
	o << "\"record\":" << json_string(to_string(where.record))
	  << ",\"replica\":" << json_opt(where.replica) << ",\"segment\":" << json_opt(where.segment)
	  << ",\"phys_segment\":" << json_opt(where.phys_segment) << ",\"kset\":"
	  << (where.kset ? json_string(to_string(*where.kset)) : "null")
	  << ",\"key_index\":" << json_opt(where.key_index)
	  << ",\"device_offset\":" << json_opt(where.device_offset);
	return o.str();
}

} // namespace pcache
