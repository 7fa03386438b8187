#include "daemon/rpc/binding_table.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pktpool::rpc {

absl::StatusOr<std::shared_ptr<capture::Binding>> BindingTable::Bind(
    const std::string& interface, const capture::BindingOptions& options) {
  {
    MutexLock lock(&mu_);
    if (bindings_.count(interface) != 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "interface '", interface, "' is already bound; unbind it first to change options"));
    }
  }
  auto opened = capture::Binding::Open(interface, options);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<capture::Binding> binding = std::move(*opened);
  MutexLock lock(&mu_);
  auto [it, added] = bindings_.emplace(interface, binding);
  if (!added) {  // bound meanwhile by another call
    return absl::AlreadyExistsError(absl::StrCat("interface '", interface, "' is already bound"));
  }
  return binding;
}

absl::Status BindingTable::Unbind(const std::string& interface) {
  return Remove(interface, nullptr);
}

absl::Status BindingTable::UnbindIf(const std::string& interface,
                                    const std::shared_ptr<capture::Binding>& expected) {
  if (expected == nullptr) return absl::InvalidArgumentError("UnbindIf needs the binding expected");
  return Remove(interface, expected);
}

absl::Status BindingTable::Remove(const std::string& interface,
                                  const std::shared_ptr<capture::Binding>& expected) {
  std::shared_ptr<capture::Binding> binding;
  {
    MutexLock lock(&mu_);
    auto it = bindings_.find(interface);
    if (it == bindings_.end()) {
      return absl::NotFoundError(absl::StrCat("interface '", interface, "' is not bound"));
    }
    if (expected != nullptr && it->second != expected) {
      return absl::FailedPreconditionError(
          absl::StrCat("interface '", interface,
                       "' was bound again meanwhile; that binding is left as it is"));
    }
    binding = std::move(it->second);
    bindings_.erase(it);
  }
  binding->Close();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<capture::Binding>> BindingTable::Get(
    const std::string& interface) const {
  MutexLock lock(&mu_);
  auto it = bindings_.find(interface);
  if (it != bindings_.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [name, binding] : bindings_) names.push_back(name);
  return absl::NotFoundError(absl::StrCat("interface '", interface, "' is not bound (bound: ",
                                          names.empty() ? "none" : absl::StrJoin(names, ", "),
                                          "); Bind it first"));
}

absl::StatusOr<std::vector<std::shared_ptr<capture::Binding>>> BindingTable::Select(
    const std::string& interface) const {
  if (!interface.empty()) {
    auto one = Get(interface);
    if (!one.ok()) return one.status();
    return std::vector<std::shared_ptr<capture::Binding>>{*one};
  }
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<capture::Binding>> all;
  for (const auto& [name, binding] : bindings_) all.push_back(binding);
  return all;
}

void BindingTable::CloseAll() {
  std::map<std::string, std::shared_ptr<capture::Binding>> all;
  {
    MutexLock lock(&mu_);
    all.swap(bindings_);
  }
  for (auto& [name, binding] : all) binding->Close();
}

}  // namespace pktpool::rpc
