#include "xml_writer.h"

#include <charconv>

namespace pcache {

std::string xml_escape(const std::string &s)
{
	std::string out;
	for (char c : s) {
		switch (c) {
		case '&':
			out += "&amp;";
			break;
		case '<':
			out += "&lt;";
			break;
		case '>':
			out += "&gt;";
			break;
		case '"':
			out += "&quot;";
			break;
		default:
			out += c;
		}
	}
	return out;
}

void xml_writer::declaration()
{
	out_.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

void xml_writer::indent()
{
	for (unsigned i = 0; i < depth_; ++i)
		out_.write("  ", 2);
}

void xml_writer::open(const char *name)
{
	indent();
	out_.put('<');
	out_.write(name, std::char_traits<char>::length(name));
}

void xml_writer::number(uint64_t v)
{
	char buf[24];
	auto res = std::to_chars(buf, buf + sizeof(buf), v);
	out_.write(buf, static_cast<size_t>(res.ptr - buf));
}

void xml_writer::attr(const char *name, uint64_t value)
{
	out_.put(' ');
	out_.write(name, std::char_traits<char>::length(name));
	out_.write("=\"", 2);
	number(value);
	out_.put('"');
}

void xml_writer::attr_hex(const char *name, uint64_t value)
{
	char buf[24];
	auto res = std::to_chars(buf, buf + sizeof(buf), value, 16);
	out_.put(' ');
	out_.write(name, std::char_traits<char>::length(name));
	out_.write("=\"0x", 4);
	out_.write(buf, static_cast<size_t>(res.ptr - buf));
	out_.put('"');
}

void xml_writer::attr(const char *name, bool value)
{
	attr(name, std::string(value ? "true" : "false"));
}

void xml_writer::attr(const char *name, const std::string &value)
{
	out_.put(' ');
	out_.write(name, std::char_traits<char>::length(name));
	out_.write("=\"", 2);
	out_.write(xml_escape(value));
	out_.put('"');
}

void xml_writer::close_empty()
{
	out_.write("/>\n", 3);
}

void xml_writer::close_start()
{
	out_.write(">\n", 2);
	++depth_;
}

void xml_writer::end(const char *name)
{
	--depth_;
	indent();
	out_.write("</", 2);
	out_.write(name, std::char_traits<char>::length(name));
	out_.write(">\n", 2);
}

} // namespace pcache
