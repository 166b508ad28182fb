#include "transaction.h"

namespace lvpcache {

transaction::transaction(const lvm &lvm, std::string what) : lvm_(lvm), what_(std::move(what))
{
}

transaction::~transaction()
{
	// An exception that did not go through fail() (a bug, or out of
	// memory) still undoes what was done.
	for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
		try {
			it->run();
		} catch (...) {
		}
	}
}

void transaction::lvm_step(const std::string &step, const std::vector<std::string> &args,
			   const std::vector<std::string> &undo)
{
	std::function<void()> undo_fn;
	if (!undo.empty())
		undo_fn = [this, undo] { lvm_.run(undo); };
	this->step(
		step, [&] { lvm_.run(args); }, undo_fn, undo.empty() ? "" : lvm::command_line(undo));
}

void transaction::step(const std::string &step, const std::function<void()> &action,
		       const std::function<void()> &undo, const std::string &undo_hint)
{
	try {
		action();
	} catch (const transaction_error &e) {
		fail(step, e.summary());
	} catch (const std::exception &e) {
		fail(step, e.what());
	}
	if (undo)
		undo_.push_back({undo, undo_hint});
}

void transaction::on_undo(const std::function<void()> &undo, const std::string &undo_hint)
{
	undo_.push_back({undo, undo_hint});
}

void transaction::fail(const std::string &step, const std::string &reason)
{
	const std::string summary = what_ + " failed at step '" + step + "': " + reason;
	std::string msg = summary;
	bool had_undo = !undo_.empty();
	std::vector<undo_entry> pending;
	pending.swap(undo_);
	while (!pending.empty()) {
		undo_entry u = pending.back();
		try {
			u.run();
			pending.pop_back();
		} catch (const std::exception &e) {
			msg += "\nundoing the earlier steps failed too: " + std::string(e.what()) +
			       "\nto finish by hand, run:";
			for (auto it = pending.rbegin(); it != pending.rend(); ++it)
				msg += "\n  " + it->hint;
			throw transaction_error(msg, msg);	// the hints must reach the user
		}
	}
	std::string except;
	for (const auto &i : irreversible_)
		except += (except.empty() ? "" : "; ") + i;
	if (had_undo)
		msg += "\nthe earlier steps were undone; the VG is as it was";
	else
		msg += "\nnothing was changed in the VG";
	if (!except.empty())
		msg += " (except: " + except + ")";
	throw transaction_error(msg, summary);
}

} // namespace lvpcache
