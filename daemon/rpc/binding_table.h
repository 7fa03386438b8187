// BindingTable: the daemon's bindings by interface name.
#ifndef PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_
#define PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/capture/binding.h"
#include "daemon/pool/mutex.h"

namespace pktpool::rpc {

// No memory budget (BindingTable's default): every Bind and TunePool is admitted.
inline constexpr uint64_t kNoPoolMemoryBudget = UINT64_MAX;

// The pool memory budget and what every binding holds now (capture::PoolMemoryBytes).
struct PoolMemoryUse {
  uint64_t limit = kNoPoolMemoryBudget;
  uint64_t in_use = 0;
};

// Thread-safe. Bindings are shared: an RPC in flight keeps its binding alive after an
// Unbind (which closes it: new sends fail with CLOSED, captures end). Bind and TunePool
// are admitted one at a time against the pool memory budget (limits.max_pool_memory),
// before any of their memory is allocated.
class BindingTable {
 public:
  explicit BindingTable(uint64_t max_pool_memory = kNoPoolMemoryBudget)
      : max_pool_memory_(max_pool_memory) {}

  // Opens and adds a binding. ALREADY_EXISTS when the interface is bound;
  // RESOURCE_EXHAUSTED (nothing opened) when its pools would exceed the budget; CANCELLED
  // (nothing bound) when a pool::PopulationGuard's caller gave up meanwhile; otherwise
  // Binding::Open's statuses.
  absl::StatusOr<std::shared_ptr<capture::Binding>> Bind(const std::string& interface,
                                                          const capture::BindingOptions& options);
  // Binding::TunePool on the binding of `interface`: NOT_FOUND when there is none,
  // RESOURCE_EXHAUSTED (nothing changed) when the new generation would exceed the budget
  // (the old one counts until it drained); otherwise TunePool's statuses.
  absl::StatusOr<capture::TuneResult> TunePool(const std::string& interface,
                                               capture::PoolId pool,
                                               const capture::TuneRequest& request);
  // The budget and the pool memory of every binding now.
  PoolMemoryUse PoolMemory() const;
  // The budget alone (kNoPoolMemoryBudget: none).
  uint64_t max_pool_memory() const { return max_pool_memory_; }
  // Closes and removes a binding; NOT_FOUND when there is none.
  absl::Status Unbind(const std::string& interface);
  // Closes and removes `expected` only while it is still the binding of `interface`:
  // NOT_FOUND when the interface is not bound, FAILED_PRECONDITION (nothing closed) when
  // another binding took its place meanwhile (an Unbind and a Bind through the API).
  absl::Status UnbindIf(const std::string& interface,
                        const std::shared_ptr<capture::Binding>& expected);
  // The binding of `interface`; NOT_FOUND with the bound names when there is none.
  absl::StatusOr<std::shared_ptr<capture::Binding>> Get(const std::string& interface) const;
  // Every binding, or just `interface` (NOT_FOUND if unknown) when it is not empty.
  absl::StatusOr<std::vector<std::shared_ptr<capture::Binding>>> Select(
      const std::string& interface) const;
  // Closes every binding (shutdown).
  void CloseAll();

 private:
  // Unbind and UnbindIf; `expected` null takes whatever binding `interface` has.
  absl::Status Remove(const std::string& interface,
                      const std::shared_ptr<capture::Binding>& expected);

  // RESOURCE_EXHAUSTED when `asked` more bytes would exceed the budget; OK otherwise.
  absl::Status Admit(const std::string& what, uint64_t asked) const;

  const uint64_t max_pool_memory_;
  Mutex admit_mu_;  // one Bind or TunePool admitted and built at a time
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<capture::Binding>> bindings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_
