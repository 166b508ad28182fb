// Running the repair engine on test images: plan, check the planned
// result, and that repairing it again changes nothing.
#pragma once

#include "damage_expect.h"
#include "repair.h"
#include "test_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace pcache::test {

inline std::string describe(const repair_report &r)
{
	return r.text("(test)");
}

// Plans a repair of c.dev; fails the test unless the result checks clean
// and a second repair of the result plans no change.
inline ::testing::AssertionResult repairs_cleanly(repair_plan &plan)
{
	if (!plan.result_clean())
		return ::testing::AssertionFailure() << "the repaired result does not check clean:\n"
						     << describe(plan.result_damage) << describe(plan.report);
	repair_plan again = plan_repair(plan.overlay());
	if (again.changes() || !again.report.changes().empty())
		return ::testing::AssertionFailure() << "repairing the result again changes it:\n"
						     << describe(again.report) << "first repair:\n"
						     << describe(plan.report);
	return ::testing::AssertionSuccess();
}

inline bool has_change(const repair_report &r, change_kind kind)
{
	for (const auto &c : r.changes())
		if (c.kind == kind)
			return true;
	return false;
}

} // namespace pcache::test
