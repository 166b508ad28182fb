// Small path helpers shared by the tools that write files next to others
// or compare the files they are given.
#pragma once

#include <string>

namespace pcache {

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string dir_of(const std::string &path);
// "a/b/c" -> "c".
std::string base_of(const std::string &path);
// Do both paths name the same file or device (for devices: the same
// device number, whatever the path)?  False if either does not exist.
bool same_file(const std::string &a, const std::string &b);
// Makes the directory entry of `path` durable (fsync of its directory).
void sync_dir_of(const std::string &path);

} // namespace pcache
