#include "daemon/rpc/binding_table.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace pktpool::rpc {

namespace {

// "19327352832 bytes (18.0 GiB)": exact, and readable.
std::string Bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = 1u << 20, kGiB = 1u << 30;
  if (bytes >= kGiB) return absl::StrFormat("%u bytes (%.1f GiB)", bytes, bytes / double(kGiB));
  return absl::StrFormat("%u bytes (%.1f MiB)", bytes, bytes / double(kMiB));
}

}  // namespace

absl::Status BindingTable::Admit(const std::string& what, uint64_t asked) const {
  if (max_pool_memory_ == kNoPoolMemoryBudget) return absl::OkStatus();
  const uint64_t in_use = PoolMemory().in_use;
  if (asked <= max_pool_memory_ && in_use <= max_pool_memory_ - asked) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      what, " asks for ", Bytes(asked), " of pool memory; ", Bytes(in_use),
      " is in use of the budget of ", Bytes(max_pool_memory_),
      " (limits.max_pool_memory, --max-pool-memory); ask for less, shrink or unbind "
      "another binding, or raise the budget"));
}

PoolMemoryUse BindingTable::PoolMemory() const {
  PoolMemoryUse use{.limit = max_pool_memory_};
  std::vector<std::shared_ptr<capture::Binding>> all;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, binding] : bindings_) all.push_back(binding);
  }
  for (const auto& binding : all) use.in_use += binding->PoolMemoryInUse();
  return use;
}

absl::StatusOr<capture::TuneResult> BindingTable::TunePool(const std::string& interface,
                                                           capture::PoolId pool,
                                                           const capture::TuneRequest& request) {
  auto binding = Get(interface);
  if (!binding.ok()) return binding.status();
  MutexLock admitting(&admit_mu_);
  if (request.descriptors != 0) {
    if (absl::Status admitted = Admit(absl::StrCat("TunePool of '", interface, "'"),
                                      (*binding)->TuneMemoryBytes(pool, request));
        !admitted.ok()) {
      return admitted;
    }
  }
  return (*binding)->TunePool(pool, request);
}

absl::StatusOr<std::shared_ptr<capture::Binding>> BindingTable::Bind(
    const std::string& interface, const capture::BindingOptions& options) {
  {
    MutexLock lock(&mu_);
    if (bindings_.count(interface) != 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "interface '", interface, "' is already bound; unbind it first to change options"));
    }
  }
  MutexLock admitting(&admit_mu_);
  if (absl::Status admitted = Admit(absl::StrCat("Bind of '", interface, "'"),
                                    capture::Binding::OpenMemoryBytes(options));
      !admitted.ok()) {
    return admitted;
  }
  auto opened = capture::Binding::Open(interface, options);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<capture::Binding> binding = std::move(*opened);
  if (pool::PopulationGuard::Abandoned()) {
    binding->Close();
    return absl::CancelledError(absl::StrCat("Bind of '", interface,
                                             "' abandoned: its caller gave up while its pools "
                                             "were being populated; nothing was bound"));
  }
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
