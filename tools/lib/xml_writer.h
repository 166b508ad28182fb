// A streaming XML writer: elements and attributes straight to an output,
// two spaces of indentation per level, nothing kept in memory.
#pragma once

#include "output.h"

#include <cstdint>
#include <string>

namespace pcache {

class xml_writer {
public:
	explicit xml_writer(output &out) : out_(out) {}

	void declaration();
	// "<name", then attributes, then close_empty() or close_start().
	void open(const char *name);
	void attr(const char *name, uint64_t value);
	void attr_hex(const char *name, uint64_t value);
	void attr(const char *name, bool value);
	void attr(const char *name, const std::string &value);
	void close_empty();	// "/>"
	void close_start();	// ">", children follow
	void end(const char *name);	// "</name>"

private:
	void indent();
	void number(uint64_t v);

	output &out_;
	unsigned depth_ = 0;
};

// XML attribute-value escaping of a string.
std::string xml_escape(const std::string &s);

} // namespace pcache
