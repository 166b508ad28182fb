#include "xml_attributes.h"

#include "xml_reader.h"

namespace pcache {

bool parse_number(const std::string &s, uint64_t max, uint64_t &out)
{
	bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t i = hex ? 2 : 0;
	if (i == s.size())
		return false;
	uint64_t base = hex ? 16 : 10, v = 0;
	for (; i < s.size(); ++i) {
		char c = s[i];
		uint64_t d;
		if (c >= '0' && c <= '9')
			d = uint64_t(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			d = uint64_t(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			d = uint64_t(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (v > max)
		return false;
	out = v;
	return true;
}

xml_attributes::xml_attributes(const char *element, const char **atts) : element_(element)
{
	for (size_t i = 0; atts && atts[i]; i += 2)
		items_.emplace_back(atts[i], atts[i + 1]);
	used_.assign(items_.size(), false);
}

void xml_attributes::fail(const char *name, const std::string &why) const
{
	throw xml_error("<" + element_ + "> attribute " + name + ": " + why);
}

const std::string *xml_attributes::find(const char *name)
{
	for (size_t i = 0; i < items_.size(); ++i) {
		if (items_[i].first == name) {
			used_[i] = true;
			return &items_[i].second;
		}
	}
	return nullptr;
}

uint64_t xml_attributes::number_or(const char *name, uint64_t max, uint64_t fallback)
{
	const std::string *v = find(name);
	if (!v)
		return fallback;
	uint64_t n;
	if (!parse_number(*v, max, n)) {
		uint64_t ignored;
		if (parse_number(*v, UINT64_MAX, ignored))
			fail(name, "'" + *v + "' is out of range (at most " + std::to_string(max) + ")");
		fail(name, "'" + *v + "' is not a number (decimal, or hex with 0x)");
	}
	return n;
}

uint64_t xml_attributes::number(const char *name, uint64_t max)
{
	if (!find(name))
		fail(name, "missing");
	return number_or(name, max, 0);
}

bool xml_attributes::boolean_or(const char *name, bool fallback)
{
	const std::string *v = find(name);
	if (!v)
		return fallback;
	if (*v == "true")
		return true;
	if (*v == "false")
		return false;
	fail(name, "'" + *v + "' is not true or false");
}

bool xml_attributes::boolean(const char *name)
{
	if (!find(name))
		fail(name, "missing");
	return boolean_or(name, false);
}

std::string xml_attributes::text(const char *name)
{
	const std::string *v = find(name);
	if (!v)
		fail(name, "missing");
	return *v;
}

void xml_attributes::done() const
{
	for (size_t i = 0; i < items_.size(); ++i)
		if (!used_[i])
			throw xml_error("<" + element_ + "> has an unknown attribute '" + items_[i].first + "'");
}

} // namespace pcache
