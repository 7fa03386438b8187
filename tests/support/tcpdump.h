// Test helper: an independent capture with tcpdump, started in the calling thread's
// network namespace, writing a pcap file that the test reads back.
#ifndef PKTPOOL_TESTS_SUPPORT_TCPDUMP_H_
#define PKTPOOL_TESTS_SUPPORT_TCPDUMP_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pktpool::testing {

// Owns one tcpdump process (ended by PID) and its file (removed).
class Tcpdump {
 public:
  // Captures frames received on `interface` matching `filter` into `path`; returns once
  // tcpdump has created the file (bounded wait). Check ok().
  Tcpdump(const std::string& interface, const std::string& path,
          const std::string& filter = "ether proto 0x88b5");
  ~Tcpdump();
  Tcpdump(const Tcpdump&) = delete;
  Tcpdump& operator=(const Tcpdump&) = delete;

  // Waits (at most 5 s) until the file holds `expected` frames, stops tcpdump with
  // SIGINT and returns every frame it wrote.
  std::vector<std::vector<uint8_t>> StopAndRead(size_t expected = 0);
  // The frames written so far.
  std::vector<std::vector<uint8_t>> Read() const;
  bool ok() const { return ok_; }

 private:
  std::string path_;
  pid_t pid_ = -1;
  bool ok_ = false;
};

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_TCPDUMP_H_
