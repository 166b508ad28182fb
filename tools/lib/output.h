// Where a tool's output goes: stdout or a file given with -o.
//
// A file is written under a temporary name next to it and renamed into
// place by commit(), so a failed run never leaves a truncated file behind
// nor destroys the one that was there.  Paths that are not regular files
// (/dev/null, a fifo) are written directly.  Every write is checked: a full
// disk is an error, not a silently short file.
#pragma once

#include <string>
#include <vector>

namespace pcache {

class output {
public:
	// "" or "-": stdout.  Opens (creates) the file at once, so an
	// unwritable path fails before any work is done.
	explicit output(const std::string &path);
	~output();
	output(const output &) = delete;
	output &operator=(const output &) = delete;

	void write(const char *data, size_t len);
	void write(const std::string &s) { write(s.data(), s.size()); }
	void put(char c)
	{
		if (buf_.size() == buf_.capacity())
			drain();
		buf_.push_back(c);
	}
	// Flush, make durable and move into place.  Without commit() the
	// temporary file is removed.
	void commit();
	const std::string &name() const { return name_; }

private:
	void drain();

	std::string name_;	// for messages
	std::string final_;	// rename target, if writing a temporary file
	std::string temp_;
	int fd_ = -1;
	bool owned_ = false;
	std::vector<char> buf_;
};

} // namespace pcache
