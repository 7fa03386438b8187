#include "tests/support/tcpdump.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

extern char** environ;

namespace pktpool::testing {
namespace {

template <typename Predicate>
void WaitUpTo(std::chrono::milliseconds limit, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Tcpdump::Tcpdump(const std::string& interface, const std::string& path, const std::string& filter)
    : path_(path) {
  std::vector<std::string> args = {"tcpdump", "-i", interface, "-w", path, "-U", "-Q", "in",
                                   "-s", "0", "-B", "16384", filter};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  ok_ = posix_spawnp(&pid_, "tcpdump", &actions, nullptr, argv.data(), environ) == 0;
  posix_spawn_file_actions_destroy(&actions);
  // tcpdump creates the file once its capture is active.
  if (ok_) WaitUpTo(std::chrono::seconds(5), [&] { return std::filesystem::exists(path_); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

Tcpdump::~Tcpdump() {
  if (ok_) StopAndRead();
  std::filesystem::remove(path_);
}

std::vector<std::vector<uint8_t>> Tcpdump::StopAndRead(size_t expected) {
  if (!ok_) return {};
  WaitUpTo(std::chrono::seconds(5), [&] { return Read().size() >= expected; });
  kill(pid_, SIGINT);
  int status = 0;
  waitpid(pid_, &status, 0);
  ok_ = false;
  return Read();
}

std::vector<std::vector<uint8_t>> Tcpdump::Read() const {
  std::vector<std::vector<uint8_t>> frames;
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* file = pcap_open_offline(path_.c_str(), errbuf);
  if (file == nullptr) return frames;
  pcap_pkthdr* header;
  const u_char* data;
  while (pcap_next_ex(file, &header, &data) == 1) frames.emplace_back(data, data + header->caplen);
  pcap_close(file);
  return frames;
}

}  // namespace pktpool::testing
