// The XML round trip (walker -> XML -> reader -> restore writer -> walker
// -> XML is identical, and the metadata bytes are too) and the reader's
// refusals, each with its line number.
#include "damage_expect.h"
#include "encode.h"
#include "layout.h"
#include "output.h"
#include "restore_writer.h"
#include "test_cache.h"
#include "walker.h"
#include "xml_emitter.h"
#include "xml_reader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace pcache::test {
namespace {

class temp_file {
public:
	temp_file()
	{
		char tmpl[] = "/tmp/pcache_xml_test.XXXXXX";
		int fd = ::mkstemp(tmpl);
		::close(fd);
		path = tmpl;
	}
	~temp_file() { std::remove(path.c_str()); }
	std::string read() const
	{
		std::ifstream in(path);
		std::stringstream s;
		s << in.rdbuf();
		return s.str();
	}
	void write(const std::string &text) const { std::ofstream(path) << text; }
	std::string path;
};

std::string dump(device &dev, const temp_file &file)
{
	output out(file.path);
	xml_emitter emitter(out);
	damage_list damage;
	walker(dev, damage, {}).walk(emitter);
	out.commit();
	EXPECT_TRUE(no_errors(damage));
	return file.read();
}

void restore(const temp_file &xml, device &dev)
{
	damage_list damage;
	xml_read_options opts;
	opts.device_size = dev.size();
	restore_writer writer(dev);
	read_metadata_xml(xml.path, writer, damage, opts);
	ASSERT_TRUE(no_errors(damage));
	writer.commit();
}

void make_busy(test_cache &c)
{
	// Lossless details: uninitialised header bytes, superblock pad, a CLEAN
	// key, extra key bits, a LAST kset, both tail replicas.
	pos_record tail;
	tail.header.seq = 7;
	tail.header.version = 0x5A;
	tail.header.res = 0xBEEF;
	c.put(PCACHE_DIRTY_TAIL_OFF(1), encode(tail));
	c.append_kset({c.data_key(0, 4096, 2, 0, 1), c.data_key(4096, 512, 2, 4096, 2)});
	cache_key clean = c.data_key(1 << 20, 4096, 2, 8192, 3);
	clean.flags = PCACHE_KEY_FLAGS_CLEAN | 0x100;
	c.append_kset({clean});
	c.append_last(9);
	c.append_kset({c.data_key(8 << 20, 65536, 3, 0, 4, 2)});
	c.set_gen(3, 2, 5, 0);
}

TEST(XmlRoundTrip, DumpRestoreDumpIsIdenticalAndSoAreTheBytes)
{
	test_cache c(0x1183);
	make_busy(c);
	temp_file first, second;
	std::string xml = dump(c.dev, first);
	EXPECT_NE(xml.find("version=\"90\" res=\"48879\""), std::string::npos);
	EXPECT_NE(xml.find("clean=\"true\" data_crc="), std::string::npos);
	EXPECT_NE(xml.find("extra_flags=\"0x100\""), std::string::npos);
	EXPECT_NE(xml.find("<last_kset seg=\"0\""), std::string::npos);

	memory_device copy(c.dev.size(), "copy");
	restore(first, copy);
	EXPECT_EQ(dump(copy, second), xml);

	// The metadata itself is byte-identical.
	auto same = [&](uint64_t off, size_t len) {
		std::vector<unsigned char> a(len), b(len);
		c.dev.read(off, a.data(), len);
		copy.read(off, b.data(), len);
		return a == b;
	};
	EXPECT_TRUE(same(0, PCACHE_SEGMENTS_OFF));
	for (uint32_t s = 0; s < c.seg_num; ++s)
		EXPECT_TRUE(same(segment_offset(s), PCACHE_SEG_DATA_OFF)) << "segment " << s;
	EXPECT_TRUE(same(data_offset(0, 0), 512));
	EXPECT_TRUE(same(data_offset(9, 0), 128));
}

struct reader_error {
	std::string message;
	damage_list damage;
};

reader_error read_text(const std::string &text)
{
	temp_file f;
	f.write(text);
	reader_error r;
	metadata_visitor none_visitor;
	try {
		read_metadata_xml(f.path, none_visitor, r.damage);
	} catch (const xml_error &e) {
		r.message = e.what();
	}
	return r;
}

const char *kHead = "<pcache_metadata format_version=\"1\">\n"
		    "  <superblock seg_num=\"31\"/>\n"
		    "  <cache_info slot=\"0\" seq=\"1\" seg_id=\"0\" n_segs=\"2\" data_crc=\"false\" "
		    "init_done=\"true\" mode=\"writeback\" gc_percent=\"70\"/>\n"
		    "  <key_tail slot=\"0\" seq=\"1\" seg=\"0\" off=\"0\"/>\n"
		    "  <dirty_tail slot=\"0\" seq=\"1\" seg=\"0\" off=\"0\"/>\n"
		    "  <segments>\n"
		    "    <segment id=\"0\" phys=\"0\"><seg_info slot=\"0\" seq=\"1\" has_next=\"true\" type=\"1\" "
		    "next=\"1\"/><seg_gen slot=\"0\" seq=\"1\" gen=\"0\"/></segment>\n"
		    "    <segment id=\"1\" phys=\"1\"><seg_info slot=\"0\" seq=\"1\" has_next=\"false\" type=\"1\" "
		    "next=\"0\"/><seg_gen slot=\"0\" seq=\"1\" gen=\"0\"/></segment>\n"
		    "  </segments>\n";

std::string doc(const std::string &log)
{
	return std::string(kHead) + "  <log>\n" + log + "  </log>\n</pcache_metadata>\n";
}

TEST(XmlReader, AValidDocument)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\">\n"
			       "      <key off=\"0\" len=\"4096\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n"
			       "    </kset>\n"));
	EXPECT_EQ(r.message, "");
	EXPECT_TRUE(none(r.damage));
}

TEST(XmlReader, UnknownAttribute)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\" colour=\"red\"/>\n"));
	EXPECT_EQ(r.message, "line 11: <kset> has an unknown attribute 'colour'");
}

TEST(XmlReader, MissingAttribute)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\">\n      <key off=\"0\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n    </kset>\n"));
	EXPECT_EQ(r.message, "line 12: <key> attribute len: missing");
}

TEST(XmlReader, NumberOutOfItsFieldsRange)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\">\n      <key off=\"0\" len=\"4294967296\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n    </kset>\n"));
	EXPECT_EQ(r.message, "line 12: <key> attribute len: '4294967296' is out of range (at most 4294967295)");
}

TEST(XmlReader, NegativeNumbersAreNotNumbers)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"-7\"/>\n"));
	EXPECT_EQ(r.message, "line 11: <kset> attribute off: '-7' is not a number (decimal, or hex with 0x)");
}

TEST(XmlReader, WrongNesting)
{
	auto r = read_text(doc("    <key off=\"0\" len=\"4096\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n"));
	EXPECT_EQ(r.message, "line 11: <key> is not allowed inside <log> (it belongs inside <kset>)");
}

TEST(XmlReader, GapBetweenKsets)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\">\n"
			       "      <key off=\"0\" len=\"4096\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n"
			       "    </kset>\n"
			       "    <kset seg=\"0\" off=\"72\"/>\n"));
	EXPECT_EQ(r.message, "line 14: <kset> at 0:72, but the log goes on at 0:64 (ksets follow each "
			     "other from key_tail without gaps)");
}

TEST(XmlReader, DuplicateSlot)
{
	std::string text = kHead;
	text.insert(text.find("  <key_tail"), "  <cache_info slot=\"0\" seq=\"2\" seg_id=\"0\" n_segs=\"2\" "
					      "data_crc=\"false\" init_done=\"true\" mode=\"writeback\" "
					      "gc_percent=\"70\"/>\n");
	auto r = read_text(text + "</pcache_metadata>\n");
	EXPECT_EQ(r.message, "line 4: <cache_info> slot 0 is given twice");
}

TEST(XmlReader, SegmentsOutOfChainOrder)
{
	std::string text = kHead;
	text.replace(text.find("id=\"1\" phys=\"1\""), 15, "id=\"1\" phys=\"2\"");
	auto r = read_text(text + "</pcache_metadata>\n");
	EXPECT_EQ(r.message, "line 8: segment id 1: phys 2 but the chain leads to physical segment 1");
}

TEST(XmlReader, TruncatedFile)
{
	std::string text = doc("");
	auto r = read_text(text.substr(0, text.size() / 2));
	EXPECT_NE(r.message.find("(the file ends early: truncated?)"), std::string::npos) << r.message;
}

TEST(XmlReader, RulesApplyWithLineNumbers)
{
	auto r = read_text(doc("    <kset seg=\"0\" off=\"0\">\n"
			       "      <key off=\"0\" len=\"4096\" seg=\"1\" seg_off=\"0\" gen=\"0\"/>\n"
			       "      <key off=\"100\" len=\"4096\" seg=\"1\" seg_off=\"4096\" gen=\"0\"/>\n"
			       "    </kset>\n"));
	EXPECT_EQ(r.message, "");
	ASSERT_TRUE(only(r.damage, damage_kind::key_offset_unaligned));
	EXPECT_EQ(r.damage.items[0].where.input_line, 13u);
}

TEST(XmlReader, LogicalMapsAreNotRestorable)
{
	auto r = read_text("<pcache_logical_map format_version=\"1\"/>\n");
	EXPECT_NE(r.message.find("cannot be restored"), std::string::npos) << r.message;
}

TEST(XmlReader, TextContentIsRefused)
{
	auto r = read_text(std::string(kHead) + "hello\n</pcache_metadata>\n");
	EXPECT_NE(r.message.find("unexpected text 'hello"), std::string::npos) << r.message;
}

} // namespace
} // namespace pcache::test
