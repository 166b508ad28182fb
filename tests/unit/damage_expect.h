// Assertions on damage lists: "exactly this one complaint".
#pragma once

#include "damage.h"

#include <gtest/gtest.h>

#include <string>

namespace pcache::test {

inline std::string describe(const damage_list &list)
{
	std::string s;
	for (const auto &d : list.items)
		s += "  " + std::string(to_string(d.kind)) + ": " + to_string(d) + "\n";
	return s.empty() ? "  (none)\n" : s;
}

inline ::testing::AssertionResult only(const damage_list &list, damage_kind kind)
{
	if (list.items.size() == 1 && list.items[0].kind == kind)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure() << "expected exactly one " << to_string(kind) << ", got:\n"
					     << describe(list);
}

inline ::testing::AssertionResult none(const damage_list &list)
{
	if (list.items.empty())
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure() << "expected no damage, got:\n" << describe(list);
}

// Warnings allowed.
inline ::testing::AssertionResult no_errors(const damage_list &list)
{
	for (const auto &d : list.items)
		if (d.level() >= severity::error)
			return ::testing::AssertionFailure() << "expected no errors, got:\n" << describe(list);
	return ::testing::AssertionSuccess();
}

} // namespace pcache::test
