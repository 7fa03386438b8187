// config_check: loads pktpoold config files with the daemon's own loader
// (daemon/config: parse, validate), for the deploy tests. Interfaces are not looked up.
//
//   config_check [--enable-commented] [--require-every-field] FILE...
//
// --enable-commented: first enable every commented-out setting (a "#" directly
//   followed by text, after any indentation, is removed; "# explanations" stay).
// --require-every-field: every field of pktpool.v1.DaemonConfig, nested messages
//   included, must appear in the file (set to any value, defaults too).
// Exit 0 when every file passes; 1 naming each file and what is wrong; 2 usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "pktpool/v1/pktpool.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The same rule as tests/unit/config's EnableCommentedSettings.
std::string EnableCommentedSettings(const std::string& text) {
  std::string enabled;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    const size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line[first] == '#' && first + 1 < line.size() &&
        line[first + 1] != ' ' && line[first + 1] != '#') {
      line.erase(first, 1);
    }
    enabled += line + "\n";
    start = end + 1;
  }
  return enabled;
}

// Appends the path of every field of `message` that `tree` has no location for.
void CollectAbsentFields(const Descriptor* message, const TextFormat::ParseInfoTree* tree,
                         const std::string& prefix, std::vector<std::string>* absent) {
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    const int index = field->is_repeated() ? 0 : -1;
    const std::string path = prefix + std::string(field->name());
    if (tree == nullptr || tree->GetLocation(field, index).line < 0) {
      absent->push_back(path);
      continue;
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectAbsentFields(field->message_type(), tree->GetTreeForNested(field, index),
                          path + ".", absent);
    }
  }
}

// A file holding `text`, deleted with this object.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& text) {
    const char* directory = std::getenv("TMPDIR");
    path_ = std::string(directory != nullptr ? directory : "/tmp") + "/config_check.XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd >= 0) {
      ok_ = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      close(fd);
    }
  }
  ~TemporaryFile() { unlink(path_.c_str()); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool ok_ = false;
};

// Checks one file; prints what is wrong and returns false, or returns true.
bool CheckFile(const std::string& path, bool enable_commented, bool require_every_field) {
  std::string text = ReadFile(path);
  if (text.empty()) {
    std::fprintf(stderr, "%s: cannot read it, or it is empty\n", path.c_str());
    return false;
  }
  // The file itself, or (settings enabled) a copy: errors then name the copy's line,
  // which is the same line of the original.
  std::optional<TemporaryFile> enabled_copy;
  if (enable_commented) {
    text = EnableCommentedSettings(text);
    enabled_copy.emplace(text);
    if (!enabled_copy->ok()) {
      std::fprintf(stderr, "%s: cannot write a temporary copy\n", path.c_str());
      return false;
    }
  }
  auto config = pktpool::config::LoadConfigFile(enabled_copy ? enabled_copy->path() : path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s%s: %s\n", path.c_str(),
                 enable_commented ? " (commented settings enabled)" : "",
                 std::string(config.status().message()).c_str());
    return false;
  }
  if (require_every_field) {
    pktpool::v1::DaemonConfig parsed;
    TextFormat::ParseInfoTree tree;
    TextFormat::Parser parser;
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &parsed)) {
      std::fprintf(stderr, "%s: does not parse\n", path.c_str());
      return false;
    }
    std::vector<std::string> absent;
    CollectAbsentFields(pktpool::v1::DaemonConfig::descriptor(), &tree, "", &absent);
    if (!absent.empty()) {
      for (const std::string& field : absent) {
        std::fprintf(stderr, "%s: field %s is not shown\n", path.c_str(), field.c_str());
      }
      return false;
    }
  }
  std::printf("%s: ok%s%s\n", path.c_str(), enable_commented ? ", commented settings enabled" : "",
              require_every_field ? ", every field shown" : "");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool enable_commented = false;
  bool require_every_field = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--enable-commented") {
      enable_commented = true;
    } else if (argument == "--require-every-field") {
      require_every_field = true;
    } else if (!argument.empty() && argument[0] == '-') {
      std::fprintf(stderr, "config_check: unknown option %s\n", argument.c_str());
      return 2;
    } else {
      files.push_back(argument);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr,
                 "usage: config_check [--enable-commented] [--require-every-field] FILE...\n");
    return 2;
  }
  bool all_ok = true;
  for (const std::string& file : files) {
    all_ok = CheckFile(file, enable_commented, require_every_field) && all_ok;
  }
  return all_ok ? 0 : 1;
}
