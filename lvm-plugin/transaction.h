// A multi-step change that either completes or is undone: every step
// records how to undo it; when a step fails, the steps already done are
// undone newest first, and if an undo fails too, the error says exactly
// which commands are left to run by hand.
#pragma once

#include "lvm.h"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lvpcache {

// What fail() throws: the full message, and its first line alone for an
// enclosing transaction, which reports the undo of everything itself.
class transaction_error : public std::runtime_error {
public:
	transaction_error(const std::string &full, std::string summary)
		: std::runtime_error(full), summary_(std::move(summary))
	{
	}
	const std::string &summary() const { return summary_; }

private:
	std::string summary_;
};

class transaction {
public:
	// what: the operation, for messages ("attach vg/data").
	transaction(const lvm &lvm, std::string what);
	~transaction();
	transaction(const transaction &) = delete;
	transaction &operator=(const transaction &) = delete;

	// Runs one lvm command as step `step`; `undo` (may be empty) reverts it.
	void lvm_step(const std::string &step, const std::vector<std::string> &args,
		      const std::vector<std::string> &undo);

	// Runs `action` as a step; `undo` reverts it; `undo_hint` is what a
	// user would run if the undo fails.
	void step(const std::string &step, const std::function<void()> &action,
		  const std::function<void()> &undo, const std::string &undo_hint);

	// Records the undo of something done outside step().
	void on_undo(const std::function<void()> &undo, const std::string &undo_hint);

	// Something done that no undo can revert (e.g. zeroed records); a
	// failure message mentions it.
	void note_irreversible(const std::string &what) { irreversible_.push_back(what); }

	// The change is complete: nothing will be undone.
	void commit() { undo_.clear(); }

	// Undoes everything and throws the error that says what happened:
	// "<what> failed at step '<step>': <reason>", then what was undone or
	// what is left to do.
	[[noreturn]] void fail(const std::string &step, const std::string &reason);

private:
	struct undo_entry {
		std::function<void()> run;
		std::string hint;
	};
	const lvm &lvm_;
	std::string what_;
	std::vector<undo_entry> undo_;
	std::vector<std::string> irreversible_;
};

} // namespace lvpcache
