// The pcache metadata XML (docs/xml-format.md) -> metadata events.
//
// The reader validates everything it can see: well-formedness (expat),
// element nesting and order, required and unknown attributes, number
// syntax and field ranges, duplicate replica slots, segment ids in chain
// order and physical ids that agree with the chain, kset positions that
// follow from key_tail without gaps, at most 128 keys per kset.  Problems
// with the XML itself are xml_errors (the first one stops the reader).
// The cache it describes is then judged by the same rules as a device
// (rules.h) and damage goes to the damage_sink with the input line.
//
// Expat calls back through C frames, so no exception crosses it: a
// handler records the first error and stops the parser; read() throws it
// once expat has returned.
#pragma once

#include "damage.h"
#include "events.h"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace pcache {

class xml_error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

struct xml_read_options {
	uint64_t device_size = 0;	// of the output, for the superblock rules; 0 = unknown
	// Called with (bytes consumed, total bytes) as the input is read.
	std::function<void(uint64_t, uint64_t)> progress;
};

// Reads `path` once, emitting events to `out` and damage to `damage`.
// Throws xml_error (with the line number) or io_error.
void read_metadata_xml(const std::string &path, metadata_visitor &out, damage_sink &damage,
		       const xml_read_options &opts = {});

} // namespace pcache
