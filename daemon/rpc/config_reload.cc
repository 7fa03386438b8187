#include "daemon/rpc/config_reload.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "daemon/config/config_diff.h"
#include "daemon/rpc/pool_tuning.h"
#include "daemon/rpc/proto_convert.h"

namespace pktpool::rpc {

absl::Status ConfiguredBindings::Bind(const v1::BindConfig& binding) {
  auto bound = bindings_->Bind(binding.interface(), ToBindingOptions(binding.options()));
  if (!bound.ok()) {
    return absl::Status(bound.status().code(), absl::StrCat("cannot bind ", binding.interface(),
                                                            ": ", bound.status().message()));
  }
  owned_[binding.interface()] = {*bound, binding.options()};
  return absl::OkStatus();
}

std::shared_ptr<capture::Binding> ConfiguredBindings::StillOurs(const std::string& interface,
                                                                const Owned& owned) const {
  std::shared_ptr<capture::Binding> ours = owned.binding.lock();
  if (!ours) return nullptr;
  auto current = bindings_->Get(interface);
  return current.ok() && *current == ours ? ours : nullptr;
}

void ConfiguredBindings::Update(const v1::BindConfig& binding, Owned* owned,
                                std::vector<ReloadNote>* notes) {
  const config::BindingOptionsDiff diff =
      config::DiffBindingOptions(binding.interface(), owned->applied, binding.options());
  for (const config::PoolChange& change : diff.pool_changes) {
    auto tuned = TuneBindingPool(*bindings_, change.request);
    if (!tuned.ok()) {
      notes->push_back({3, absl::StrCat("reload: cannot tune ", change.what, ": ",
                                        tuned.status().message(),
                                        "; the pool keeps its size")});
      continue;
    }
    config::ApplyPoolChange(change, &owned->applied);
    const v1::PoolStats& applied = tuned->applied();
    notes->push_back(
        {6, absl::StrCat("reload: tuned ", change.what, " (", binding.interface(), " ",
                         applied.tag(), " generation ", applied.generation(), ": ",
                         applied.descriptors(), " descriptors",
                         tuned->overflow_clamped()
                             ? absl::StrCat(", overflow clamped to ", applied.overflow_limit())
                             : "",
                         ")")});
  }
  for (const std::string& field : diff.needs_rebind) {
    notes->push_back({4, absl::StrCat("reload: ", field,
                                      " not applied: a running binding keeps it; unbind and "
                                      "bind it (API) or restart pktpoold")});
  }
}

std::vector<ReloadNote> ConfiguredBindings::Apply(const v1::DaemonConfig& next) {
  std::vector<ReloadNote> notes;
  std::set<std::string> named;
  for (const v1::BindConfig& binding : next.bindings()) {
    const std::string& interface = binding.interface();
    named.insert(interface);
    if (auto it = owned_.find(interface); it != owned_.end()) {
      if (StillOurs(interface, it->second)) {
        Update(binding, &it->second, &notes);
        continue;
      }
      owned_.erase(it);  // unbound (or replaced) through the API since
    }
    if (bindings_->Get(interface).ok()) {
      notes.push_back({5, absl::StrCat("reload: ", interface,
                                       " is bound through the API; left as it is (the "
                                       "config's options for it are not applied)")});
      continue;
    }
    if (absl::Status bound = Bind(binding); !bound.ok()) {
      notes.push_back({3, absl::StrCat("reload: ", bound.message())});
    } else {
      notes.push_back({6, absl::StrCat("reload: bound ", interface)});
    }
  }
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (named.count(it->first) != 0) {
      ++it;
      continue;
    }
    if (std::shared_ptr<capture::Binding> ours = StillOurs(it->first, it->second)) {
      // UnbindIf, not Unbind: an API Unbind and Bind between StillOurs and here must not
      // lose the API's new binding.
      absl::Status unbound = bindings_->UnbindIf(it->first, ours);
      // Its only errors: NOT_FOUND or FAILED_PRECONDITION (the API got there first).
      notes.push_back(unbound.ok()
                          ? ReloadNote{6, absl::StrCat("reload: unbound ", it->first,
                                                       " (no longer in the config)")}
                          : ReloadNote{5, absl::StrCat("reload: not unbinding ", it->first,
                                                       " (unbound or bound again through the "
                                                       "API meanwhile): ",
                                                       unbound.message())});
    }
    it = owned_.erase(it);
  }
  return notes;
}

}  // namespace pktpool::rpc
