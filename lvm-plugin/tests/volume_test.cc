// The pcache volume model read back from LVM's tags and names.
#include "dm.h"
#include "volume.h"

#include <gtest/gtest.h>

using namespace lvpcache;

namespace {

lv_info lv(const std::string &name, std::set<std::string> tags)
{
	lv_info l;
	l.vg = "vg";
	l.name = name;
	l.uuid = "aaaa-" + name;
	l.attr = "-wi-------";
	l.tags = std::move(tags);
	return l;
}

vg_info cached_vg()
{
	vg_info vg;
	vg.name = "vg";
	vg.uuid = "VGUU-ID";
	vg.lvs.push_back(lv("data_pcorig", {"pcache.role=origin", "pcache.volume=data", "pcache.gc_percent=50",
					    "pcache.data_crc=true"}));
	vg.lvs.push_back(lv("data_pcvol", {"pcache.role=cachevol", "pcache.volume=data"}));
	vg.lvs.push_back(lv("data", {"pcache.role=volume", "pcache.volume=data"}));
	vg.lvs.push_back(lv("other", {}));
	return vg;
}

} // namespace

TEST(Volume, ComponentsFoundByTags)
{
	vg_model m(cached_vg());
	ASSERT_EQ(m.volumes().size(), 1u);
	const volume &v = m.get("data");
	EXPECT_EQ(v.origin->name, "data_pcorig");
	EXPECT_EQ(v.cachevol->name, "data_pcvol");
	EXPECT_EQ(v.placeholder->name, "data");
	EXPECT_EQ(v.config.gc_percent, 50u);
	EXPECT_TRUE(v.config.data_crc);
	EXPECT_EQ(v.config.cache_mode, "writeback");
	EXPECT_EQ(v.missing_reason(m.vg()), "");
}

TEST(Volume, DmNameAndUuid)
{
	vg_model m(cached_vg());
	const volume &v = m.get("data");
	EXPECT_EQ(v.dm_name(), "vg-data");
	EXPECT_EQ(v.dm_uuid(), "PCACHE-VGUUIDaaaadata_pcorig");
	EXPECT_EQ(v.link_path(), "/dev/vg/data");
}

TEST(Volume, LvmDmNameDoublesDashes)
{
	EXPECT_EQ(dm::lvm_dm_name("my-vg", "a-b"), "my--vg-a--b");
}

TEST(Volume, PlainLvIsNotAVolume)
{
	vg_model m(cached_vg());
	EXPECT_THROW(m.get("other"), std::runtime_error);
	EXPECT_THROW(m.get("data_pcvol"), std::runtime_error);
	EXPECT_THROW(m.get("nothing"), std::runtime_error);
}

TEST(Volume, MissingCacheLvIsReported)
{
	vg_info vg = cached_vg();
	vg.lvs.erase(vg.lvs.begin() + 1);
	vg_model m(std::move(vg));
	EXPECT_NE(m.get("data").missing_reason(m.vg()).find("data_pcvol does not exist"), std::string::npos);
}

TEST(Volume, PartialCacheLvIsReported)
{
	vg_info vg = cached_vg();
	vg.lvs[1].partial = true;
	vg_model m(std::move(vg));
	EXPECT_NE(m.get("data").missing_reason(m.vg()).find("missing a PV"), std::string::npos);
}

TEST(Volume, TwoOriginsAreRefused)
{
	vg_info vg = cached_vg();
	vg.lvs.push_back(lv("x", {"pcache.role=origin", "pcache.volume=data"}));
	EXPECT_THROW(vg_model m(std::move(vg)), std::runtime_error);
}

TEST(Volume, BadSettingTagIsRefused)
{
	vg_info vg = cached_vg();
	vg.lvs[0].tags.insert("pcache.cache_mode=fast");
	EXPECT_THROW(vg_model m(std::move(vg)), std::runtime_error);
}

TEST(Volume, SettingsTagsRoundTrip)
{
	settings s;
	s.cache_mode = "writethrough";
	s.gc_percent = 10;
	s.writeback_rate = 100;
	lv_info l = lv("o", {});
	for (const auto &t : s.tags())
		l.tags.insert(t);
	settings back = settings::from_tags(l);
	EXPECT_EQ(back.cache_mode, "writethrough");
	EXPECT_EQ(back.gc_percent, 10u);
	EXPECT_EQ(back.writeback_rate, 100u);
	EXPECT_FALSE(back.data_crc);
}

TEST(Volume, LvNameParsing)
{
	auto n = parse_lv_name("/dev/vg/data");
	EXPECT_EQ(n.vg, "vg");
	EXPECT_EQ(n.lv, "data");
	EXPECT_THROW(parse_lv_name("vgdata"), std::invalid_argument);
	EXPECT_THROW(parse_lv_name("vg/da ta"), std::invalid_argument);
	EXPECT_THROW(parse_lv_name("vg/-x"), std::invalid_argument);
	EXPECT_THROW(parse_lv_name("a/b/c"), std::invalid_argument);
}
