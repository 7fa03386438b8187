// RenderPrometheus on hand-built statistics: every line parses (strictly), the families
// are exactly the fixed list, label values are escaped, and every value is its input.
#include "daemon/metrics/prometheus_text.h"

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/metrics/prometheus_text_parser.h"

namespace pktpool::metrics {
namespace {

using pktpool::testing::FamilySpec;
using pktpool::testing::ParsePrometheusText;
using pktpool::testing::PromExposition;
using ::testing::HasSubstr;

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max();

v1::PoolStats* AddPool(v1::BindingStats* binding, v1::PoolName name, const char* tag,
                       uint32_t generation, bool draining, uint32_t base) {
  v1::PoolStats* pool = binding->add_pools();
  pool->set_name(name);
  pool->set_tag(tag);
  pool->set_generation(generation);
  pool->set_draining(draining);
  pool->set_descriptors(base + 1);
  pool->set_overflow_limit(base + 2);
  pool->set_in_use(base + 3);
  pool->set_free(base + 4);
  pool->set_high_watermark(base + 5);
  pool->set_allocations(base + 6);
  pool->set_resource_failures(base + 7);
  pool->set_memory_bytes(base + 8);
  return pool;
}

// Two bindings: veth-a UP with every kind of sample, a DOWN one with nothing but pools.
v1::GetStatsResponse Stats() {
  v1::GetStatsResponse stats;
  v1::BindingStats* a = stats.add_bindings();
  a->mutable_binding()->set_interface("veth-a");
  a->mutable_binding()->set_state(v1::BINDING_STATE_UP);
  a->set_rx_frames(1234);
  a->set_rx_bytes(567890);
  a->set_rx_resource_drops(3);
  a->set_tx_frames(kHuge);
  a->set_tx_bytes(kHuge - 1);
  (*a->mutable_tx_failures())["resources"] = 11;
  (*a->mutable_tx_failures())["closed"] = 0;
  (*a->mutable_tx_failures())["inject_failed"] = 2;
  a->set_tx_queue_depth(17);
  a->set_tx_late_frames(23);
  a->set_down_events(4);
  a->set_pcap_received(1300);
  a->set_pcap_dropped(5);
  a->set_pcap_if_dropped(6);
  AddPool(a, v1::POOL_NAME_RX_PACKETS, "RXPK", 1, false, 100);
  AddPool(a, v1::POOL_NAME_RX_BUFFERS, "RXBD", 1, false, 200);
  AddPool(a, v1::POOL_NAME_TX_PACKETS, "TXPK", 0, false, 300);
  AddPool(a, v1::POOL_NAME_TX_BUFFERS, "TXBD", 0, false, 400);
  AddPool(a, v1::POOL_NAME_RX_PACKETS, "RXPK", 0, true, 500);  // draining generation
  v1::TagUsage* tag = a->add_memory();
  tag->set_tag("RXBF");
  tag->set_bytes_outstanding(4096);
  tag->set_peak_bytes(8192);
  v1::SubscriberStats* subscriber = a->add_subscribers();
  subscriber->set_name("grpc-capture-1");
  subscriber->set_dropped(9);
  v1::BindingStats* b = stats.add_bindings();
  b->mutable_binding()->set_interface("veth-b");
  b->mutable_binding()->set_state(v1::BINDING_STATE_DOWN);
  AddPool(b, v1::POOL_NAME_TX_BUFFERS, "TXBD", 2, false, 600);
  return stats;
}

std::vector<FamilySpec> Specs() {
  return pktpool::testing::ReadFamilySpecs(PKTPOOL_METRIC_FAMILIES_FILE);
}

PromExposition Parse(const std::string& text) {
  auto parsed = ParsePrometheusText(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  return parsed.ok() ? *parsed : PromExposition{};
}

TEST(PrometheusText, EveryLineParsesStrictly) {
  const std::string text = RenderPrometheus(Stats(), "0.1.0");
  auto parsed = ParsePrometheusText(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_GT(parsed->families.size(), 20u);
}

TEST(PrometheusText, FamiliesAreExactlyTheFixedListWithTheirTypesAndLabels) {
  const std::vector<FamilySpec> specs = Specs();
  ASSERT_EQ(specs.size(), 29u) << "cannot read " << PKTPOOL_METRIC_FAMILIES_FILE;
  const PromExposition parsed = Parse(RenderPrometheus(Stats(), "0.1.0"));
  std::set<std::string> listed, rendered;
  for (const FamilySpec& spec : specs) {
    listed.insert(spec.name);
    const auto* family = parsed.Find(spec.name);
    ASSERT_NE(family, nullptr) << spec.name;
    EXPECT_EQ(family->type, spec.type) << spec.name;
    EXPECT_FALSE(family->help.empty()) << spec.name;
    ASSERT_FALSE(family->samples.empty()) << spec.name << " has no sample in this input";
    for (const auto& sample : family->samples) {
      std::set<std::string> keys;
      for (const auto& [key, value] : sample.labels) keys.insert(key);
      EXPECT_EQ(keys, std::set<std::string>(spec.labels.begin(), spec.labels.end()))
          << spec.name;
    }
    if (spec.type == "counter") {
      EXPECT_TRUE(absl::EndsWith(spec.name, "_total")) << spec.name;
    }
  }
  for (const auto& family : parsed.families) rendered.insert(family.name);
  EXPECT_EQ(rendered, listed);
}

TEST(PrometheusText, BindingValuesEqualTheirInputs) {
  const PromExposition p = Parse(RenderPrometheus(Stats(), "0.1.0"));
  const std::map<std::string, std::string> a = {{"binding", "veth-a"}};
  EXPECT_EQ(p.Value("pktpool_up", {}), 1);
  EXPECT_EQ(p.Value("pktpool_build_info", {{"version", "0.1.0"}}), 1);
  EXPECT_EQ(p.Value("pktpool_binding_up", a), 1);
  EXPECT_EQ(p.Value("pktpool_binding_up", {{"binding", "veth-b"}}), 0);
  EXPECT_EQ(p.Value("pktpool_rx_frames_total", a), 1234);
  EXPECT_EQ(p.Value("pktpool_rx_bytes_total", a), 567890);
  EXPECT_EQ(p.Value("pktpool_rx_resource_drops_total", a), 3);
  EXPECT_EQ(p.Value("pktpool_tx_queue_depth", a), 17);
  EXPECT_EQ(p.Value("pktpool_tx_late_frames_total", a), 23);
  EXPECT_EQ(p.Value("pktpool_down_events_total", a), 4);
  EXPECT_EQ(p.Value("pktpool_pcap_received_total", a), 1300);
  EXPECT_EQ(p.Value("pktpool_pcap_dropped_total", a), 5);
  EXPECT_EQ(p.Value("pktpool_pcap_if_dropped_total", a), 6);
  EXPECT_EQ(p.Value("pktpool_tx_failures_total", {{"binding", "veth-a"}, {"reason", "resources"}}),
            11);
  EXPECT_EQ(
      p.Value("pktpool_tx_failures_total", {{"binding", "veth-a"}, {"reason", "inject_failed"}}), 2);
  EXPECT_EQ(p.Value("pktpool_tx_failures_total", {{"binding", "veth-a"}, {"reason", "closed"}}), 0);
  EXPECT_EQ(p.Find("pktpool_tx_failures_total")->samples.size(), 3u);
  EXPECT_EQ(p.Value("pktpool_tag_bytes_outstanding", {{"binding", "veth-a"}, {"tag", "RXBF"}}),
            4096);
  EXPECT_EQ(p.Value("pktpool_tag_peak_bytes", {{"binding", "veth-a"}, {"tag", "RXBF"}}), 8192);
  EXPECT_EQ(p.Value("pktpool_subscriber_dropped_total",
                    {{"binding", "veth-a"}, {"subscriber", "grpc-capture-1"}}),
            9);
  // Counters past 2^63 are written exactly (not as floats).
  for (const auto& [name, value] : {std::pair{"pktpool_tx_frames_total", kHuge},
                                    std::pair{"pktpool_tx_bytes_total", kHuge - 1}}) {
    const auto* family = p.Find(name);
    ASSERT_NE(family, nullptr);
    bool found = false;
    for (const auto& sample : family->samples) {
      if (sample.labels.at("binding") == "veth-a") {
        EXPECT_EQ(sample.value, value) << name;
        found = true;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST(PrometheusText, PoolValuesCarryBindingPoolTagAndGeneration) {
  const PromExposition p = Parse(RenderPrometheus(Stats(), "0.1.0"));
  struct Pool {
    const char* binding;
    const char* pool;
    const char* tag;
    const char* generation;
    int64_t base;
    int64_t draining;
  };
  const Pool pools[] = {{"veth-a", "rx-packets", "RXPK", "1", 100, 0},
                        {"veth-a", "rx-buffers", "RXBD", "1", 200, 0},
                        {"veth-a", "tx-packets", "TXPK", "0", 300, 0},
                        {"veth-a", "tx-buffers", "TXBD", "0", 400, 0},
                        {"veth-a", "rx-packets", "RXPK", "0", 500, 1},
                        {"veth-b", "tx-buffers", "TXBD", "2", 600, 0}};
  const std::pair<const char*, int64_t> families[] = {
      {"pktpool_pool_descriptors", 1},        {"pktpool_pool_overflow_limit", 2},
      {"pktpool_pool_in_use", 3},             {"pktpool_pool_free", 4},
      {"pktpool_pool_high_watermark", 5},     {"pktpool_pool_allocations_total", 6},
      {"pktpool_pool_alloc_failures_total", 7}, {"pktpool_pool_memory_bytes", 8}};
  for (const Pool& pool : pools) {
    const std::map<std::string, std::string> labels = {{"binding", pool.binding},
                                                       {"pool", pool.pool},
                                                       {"tag", pool.tag},
                                                       {"generation", pool.generation}};
    for (const auto& [name, offset] : families) {
      EXPECT_EQ(p.Value(name, labels), pool.base + offset) << name << " " << pool.tag;
    }
    EXPECT_EQ(p.Value("pktpool_pool_draining", labels), pool.draining) << pool.tag;
  }
  EXPECT_EQ(p.Find("pktpool_pool_in_use")->samples.size(), 6u);
}

TEST(PrometheusText, LabelValuesAreEscapedAndReadBackUnchanged) {
  v1::GetStatsResponse stats;
  v1::BindingStats* binding = stats.add_bindings();
  binding->mutable_binding()->set_interface("veth\"x");
  v1::SubscriberStats* subscriber = binding->add_subscribers();
  const std::string awkward = "a\\b\"c\nd}e,f=g";
  subscriber->set_name(awkward);
  subscriber->set_dropped(42);
  const std::string text = RenderPrometheus(stats, "1.0\"beta");
  EXPECT_THAT(text, HasSubstr("subscriber=\"a\\\\b\\\"c\\nd}e,f=g\""));
  EXPECT_THAT(text, HasSubstr("binding=\"veth\\\"x\""));
  const PromExposition p = Parse(text);
  EXPECT_EQ(p.Value("pktpool_subscriber_dropped_total",
                    {{"binding", "veth\"x"}, {"subscriber", awkward}}),
            42);
  EXPECT_EQ(p.Value("pktpool_build_info", {{"version", "1.0\"beta"}}), 1);
}

TEST(PrometheusText, NoBindingsStillDeclaresEveryFamily) {
  const PromExposition p = Parse(RenderPrometheus(v1::GetStatsResponse(), "0.1.0"));
  for (const FamilySpec& spec : Specs()) {
    const auto* family = p.Find(spec.name);
    ASSERT_NE(family, nullptr) << spec.name;
    const bool always = spec.name == "pktpool_up" || spec.name == "pktpool_build_info" ||
                        spec.name == "pktpool_pool_memory_budget_bytes" ||
                        spec.name == "pktpool_pool_memory_in_use_bytes";
    EXPECT_EQ(family->samples.size(), always ? 1u : 0u) << spec.name;
  }
}

// The parser the tests above rely on must refuse what Prometheus would refuse.
TEST(PrometheusTextParser, RefusesMalformedLines) {
  const char* header = "# HELP m help\n# TYPE m gauge\n";
  const char* bad[] = {
      "m{a=\"b} 1\n",             // unterminated value
      "m{a=\"b\"c\"} 1\n",         // unescaped quote
      "m{a=\"b\\x\"} 1\n",         // unknown escape
      "m{a=b} 1\n",                // unquoted
      "m{a=\"b\",} 1\n",           // trailing comma
      "m{1a=\"b\"} 1\n",           // bad label name
      "m 1 1700000000\n",          // a timestamp
      "m one\n",                   // not a number
      "m{a=\"b\"} 1\nm{a=\"b\"} 2\n",  // series twice
      "n 1\n",                     // outside its family
      "m 1",                       // no final newline
      "\n",                        // empty line
      "# comment\n",               // other comments
  };
  for (const char* samples : bad) {
    EXPECT_FALSE(ParsePrometheusText(absl::StrCat(header, samples)).ok()) << samples;
  }
  EXPECT_FALSE(ParsePrometheusText("# TYPE m gauge\nm 1\n").ok()) << "TYPE without HELP";
  EXPECT_FALSE(ParsePrometheusText("# HELP m h\n# TYPE m summary\n").ok());
  EXPECT_FALSE(ParsePrometheusText("# HELP m h\n# TYPE m gauge\n# HELP m h\n").ok());
  EXPECT_TRUE(ParsePrometheusText(absl::StrCat(header, "m{a=\"b\\\\\\\"\\n\",c=\"\"} 7\n")).ok());
}

TEST(PoolLabelTest, NamesEachPool) {
  EXPECT_EQ(PoolLabel(v1::POOL_NAME_RX_PACKETS), "rx-packets");
  EXPECT_EQ(PoolLabel(v1::POOL_NAME_RX_BUFFERS), "rx-buffers");
  EXPECT_EQ(PoolLabel(v1::POOL_NAME_TX_PACKETS), "tx-packets");
  EXPECT_EQ(PoolLabel(v1::POOL_NAME_TX_BUFFERS), "tx-buffers");
}

}  // namespace
}  // namespace pktpool::metrics
