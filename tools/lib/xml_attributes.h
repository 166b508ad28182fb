// Typed access to one XML element's attributes, with the checks restore
// needs: required ones present, numbers in decimal or 0x-hex only and
// within their field's range, booleans exactly "true"/"false", and no
// attribute left unread (an unknown attribute is an error, not ignored).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pcache {

class xml_attributes {
public:
	// expat's NULL-terminated array of name, value, name, value...
	xml_attributes(const char *element, const char **atts);

	uint64_t number(const char *name, uint64_t max);
	uint64_t number_or(const char *name, uint64_t max, uint64_t fallback);
	bool boolean(const char *name);
	bool boolean_or(const char *name, bool fallback);
	std::string text(const char *name);
	// Every attribute was read: anything else is unknown.
	void done() const;

private:
	const std::string *find(const char *name);
	[[noreturn]] void fail(const char *name, const std::string &why) const;

	std::string element_;
	std::vector<std::pair<std::string, std::string>> items_;
	std::vector<bool> used_;
};

// Parses decimal or 0x-hex without sign or spaces; false if malformed or
// above max.
bool parse_number(const std::string &s, uint64_t max, uint64_t &out);

} // namespace pcache
