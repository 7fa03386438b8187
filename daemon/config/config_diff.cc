#include "daemon/config/config_diff.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"

namespace pktpool::config {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;
using google::protobuf::util::MessageDifferencer;

// The value of a singular field as text format writes it ("\"veth0\"", "DIRECTION_IN").
std::string ValueText(const Message& message, const FieldDescriptor* field) {
  std::string text;
  TextFormat::PrintFieldValueToString(message, field, -1, &text);
  return text;
}

// Appends "PATH.FIELD: OLD -> NEW" for every scalar field of `a` and `b` (one message
// type) that differs, descending into singular message fields; `skip` leaves fields out.
void AppendDifferences(const Message& a, const Message& b, const std::string& path,
                       std::vector<std::string>* out,
                       const std::function<bool(const FieldDescriptor*)>& skip = nullptr) {
  const auto* descriptor = a.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (skip && skip(field)) continue;
    const std::string name = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (field->is_repeated()) {
      MessageDifferencer differencer;
      if (!differencer.CompareWithFields(a, b, {field}, {field})) {
        out->push_back(absl::StrCat(name, ": changed"));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      AppendDifferences(a.GetReflection()->GetMessage(a, field),
                        b.GetReflection()->GetMessage(b, field), name, out);
    } else {
      const std::string before = ValueText(a, field);
      const std::string after = ValueText(b, field);
      if (before != after) out->push_back(absl::StrCat(name, ": ", before, " -> ", after));
    }
  }
}

// The changes of one pool (the packet or the buffer fields of a PoolSizes), if any.
void AddPoolChange(const std::string& interface, const std::string& path,
                   const v1::PoolSizes& running, const v1::PoolSizes& next, bool packets,
                   v1::PoolName name, BindingOptionsDiff* diff) {
  std::vector<std::string> changed;
  AppendDifferences(running, next, path, &changed, [packets](const FieldDescriptor* field) {
    const bool packet_field = field->number() == v1::PoolSizes::kPacketDescriptorsFieldNumber ||
                              field->number() == v1::PoolSizes::kPacketOverflowFieldNumber;
    return packet_field != packets;
  });
  if (changed.empty()) return;
  PoolChange change;
  change.request.set_interface(interface);
  change.request.set_pool(name);
  if (packets) {
    change.request.set_descriptors(next.packet_descriptors());
    change.request.set_overflow(next.packet_overflow());
  } else {
    change.request.set_descriptors(next.buffer_count());
    change.request.set_buffer_size(next.buffer_size());
  }
  change.what = absl::StrJoin(changed, ", ");
  diff->pool_changes.push_back(std::move(change));
}

}  // namespace

BindingOptionsDiff DiffBindingOptions(const std::string& interface,
                                      const v1::BindingOptions& running,
                                      const v1::BindingOptions& next) {
  BindingOptionsDiff diff;
  const std::string path = absl::StrCat("bindings[", interface, "].options");
  AddPoolChange(interface, path + ".rx", running.rx(), next.rx(), true, v1::POOL_NAME_RX_PACKETS,
                &diff);
  AddPoolChange(interface, path + ".rx", running.rx(), next.rx(), false,
                v1::POOL_NAME_RX_BUFFERS, &diff);
  AddPoolChange(interface, path + ".tx", running.tx(), next.tx(), true, v1::POOL_NAME_TX_PACKETS,
                &diff);
  AddPoolChange(interface, path + ".tx", running.tx(), next.tx(), false,
                v1::POOL_NAME_TX_BUFFERS, &diff);
  AppendDifferences(running, next, path, &diff.needs_rebind, [](const FieldDescriptor* field) {
    return field->number() == v1::BindingOptions::kRxFieldNumber ||
           field->number() == v1::BindingOptions::kTxFieldNumber;
  });
  return diff;
}

void ApplyPoolChange(const PoolChange& change, v1::BindingOptions* options) {
  const v1::TunePoolRequest& request = change.request;
  const bool rx = request.pool() == v1::POOL_NAME_RX_PACKETS ||
                  request.pool() == v1::POOL_NAME_RX_BUFFERS;
  v1::PoolSizes* sizes = rx ? options->mutable_rx() : options->mutable_tx();
  if (request.pool() == v1::POOL_NAME_RX_PACKETS || request.pool() == v1::POOL_NAME_TX_PACKETS) {
    sizes->set_packet_descriptors(request.descriptors());
    sizes->set_packet_overflow(request.overflow());
  } else {
    sizes->set_buffer_count(request.descriptors());
    if (request.buffer_size() != 0) sizes->set_buffer_size(request.buffer_size());
  }
}

std::vector<std::string> ChangesNeedingRestart(const v1::DaemonConfig& running,
                                               const v1::DaemonConfig& next) {
  std::vector<std::string> changes;
  AppendDifferences(running, next, "", &changes, [](const FieldDescriptor* field) {
    // Bindings are reloaded; the status interval applies at once.
    return field->number() == v1::DaemonConfig::kBindingsFieldNumber ||
           field->number() == v1::DaemonConfig::kStatusIntervalSecondsFieldNumber;
  });
  return changes;
}

}  // namespace pktpool::config
