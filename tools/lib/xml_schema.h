// Element and attribute names of the pcache metadata XML (format version
// 1), shared by the writer (xml_emitter) and the reader (xml_reader) so
// the two cannot drift apart.  The schema is documented in
// docs/xml-format.md.
#pragma once

namespace pcache::xml {

constexpr unsigned kFormatVersion = 1;

// Elements, in document order.
constexpr const char *kRoot = "pcache_metadata";
constexpr const char *kSuperblock = "superblock";
constexpr const char *kCacheInfo = "cache_info";
constexpr const char *kKeyTail = "key_tail";
constexpr const char *kDirtyTail = "dirty_tail";
constexpr const char *kSegments = "segments";
constexpr const char *kSegment = "segment";
constexpr const char *kSegInfo = "seg_info";
constexpr const char *kSegGen = "seg_gen";
constexpr const char *kLog = "log";
constexpr const char *kKset = "kset";
constexpr const char *kKey = "key";
constexpr const char *kLastKset = "last_kset";

// Attributes.
constexpr const char *kFormatVersionAttr = "format_version";
constexpr const char *kSegNum = "seg_num";
constexpr const char *kFlags = "flags";
constexpr const char *kPad = "pad";
constexpr const char *kSlot = "slot";
constexpr const char *kSeq = "seq";
constexpr const char *kVersion = "version";
constexpr const char *kRes = "res";
constexpr const char *kSegId = "seg_id";
constexpr const char *kNSegs = "n_segs";
constexpr const char *kDataCrc = "data_crc";
constexpr const char *kInitDone = "init_done";
constexpr const char *kMode = "mode";
constexpr const char *kGcPercent = "gc_percent";
constexpr const char *kNeedsCheck = "needs_check";
constexpr const char *kExtraFlags = "extra_flags";
constexpr const char *kReserved = "reserved";
constexpr const char *kSeg = "seg";
constexpr const char *kOff = "off";
constexpr const char *kId = "id";
constexpr const char *kPhys = "phys";
constexpr const char *kHasNext = "has_next";
constexpr const char *kType = "type";
constexpr const char *kNext = "next";
constexpr const char *kGen = "gen";
constexpr const char *kLen = "len";
constexpr const char *kSegOff = "seg_off";
constexpr const char *kClean = "clean";

// The resolved logical map (pcache_dump --logical): a view, not restorable.
constexpr const char *kLogicalRoot = "pcache_logical_map";
constexpr const char *kExtent = "extent";
constexpr const char *kDevOff = "dev_off";
constexpr const char *kDirty = "dirty";
constexpr const char *kSummary = "summary";

} // namespace pcache::xml
