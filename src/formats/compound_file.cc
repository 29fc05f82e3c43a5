#include "formats/compound_file.h"

#include <gsf/gsf.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

namespace openrms::formats {

namespace {

// libgsf reports damage through g_warning and g_critical (a directory entry
// met twice, a chain that ends too soon), and sometimes reads on. Each thread keeps the first such
// warning of the file it is reading, for the error, instead of having
// GLib print it.
thread_local std::string* g_warning_sink = nullptr;

void KeepWarning(const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
  if (g_warning_sink != nullptr && g_warning_sink->empty() && message != nullptr) {
    *g_warning_sink = message;
  }
}

void InitGsf() {
  static std::once_flag once;
  std::call_once(once, [] {
    gsf_init();
    for (const char* domain : {"libgsf", "libgsf:msole"}) {
      g_log_set_handler(domain, static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK), KeepWarning,
                        nullptr);
    }
  });
}

struct Unref {
  void operator()(void* object) const { g_object_unref(object); }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;

// libgsf's words for damage are its own internals ("ole_dirent_new:
// assertion ... failed"); people get what they mean.
Status Damaged(std::string_view what, const std::string& warning) {
  const std::string detail = warning.empty() ? std::string(what) : warning;
  std::string why(what);
  if (detail.find("seen_before") != std::string::npos) {
    why = "a directory entry points at itself or at an entry above it";
  } else if (detail.find("lock") != std::string::npos ||
             detail.find("metabat") != std::string::npos) {  // Block, block, BAT
    why = "a sector chain loops or runs past the end of the file";
  }
  return Status(Code::kMalformed, "the compound file is damaged: " + why +
                                      "; it cannot be read (was it cut short, or changed?)");
}

struct Reader {
  std::string_view bytes;
  std::string warning;
  CompoundFile out;
  size_t entries = 0;
  size_t total = 0;

  Status Walk(GsfInfile* storage, std::vector<std::string>& path) {
    const int n = gsf_infile_num_children(storage);
    if (n < 0) return Damaged("a storage lists no children", warning);
    for (int i = 0; i < n; ++i) {
      if (++entries > kMaxCompoundFileEntries) {
        return Status(Code::kTooLarge, "the compound file has more than " +
                                           std::to_string(kMaxCompoundFileEntries) + " entries");
      }
      const char* name = gsf_infile_name_by_index(storage, i);
      Ref<GsfInput> child(gsf_infile_child_by_index(storage, i));
      if (name == nullptr || child == nullptr) {
        return Damaged("entry " + std::to_string(i) + " of " + PathText(path) + " cannot be read",
                       warning);
      }
      path.emplace_back(name);
      const bool is_storage =
          GSF_IS_INFILE(child.get()) && gsf_infile_num_children(GSF_INFILE(child.get())) >= 0;
      if (is_storage) {
        if (path.size() > kMaxCompoundFileDepth) {
          return Status(Code::kTooLarge, "the compound file nests storages more than " +
                                             std::to_string(kMaxCompoundFileDepth) + " deep");
        }
        out.storages.push_back(path);
        RETURN_IF_ERROR(Walk(GSF_INFILE(child.get()), path));
      } else {
        const gsf_off_t size = gsf_input_size(child.get());
        if (size < 0 || static_cast<uint64_t>(size) > bytes.size()) {
          return Damaged("stream " + PathText(path) + " says it holds " + std::to_string(size) +
                             " bytes, more than the file's " + std::to_string(bytes.size()),
                         warning);
        }
        total += static_cast<size_t>(size);
        if (total > kMaxCompoundFileBytes) {
          return Status(Code::kTooLarge, "the compound file's streams hold more than " +
                                             std::to_string(kMaxCompoundFileBytes) + " bytes");
        }
        CompoundStream stream;
        stream.path = path;
        stream.data.resize(static_cast<size_t>(size));
        if (size > 0 && gsf_input_read(child.get(), static_cast<size_t>(size),
                                       reinterpret_cast<guint8*>(stream.data.data())) == nullptr) {
          return Damaged("stream " + PathText(path) + " runs past the end of the file", warning);
        }
        out.streams.push_back(std::move(stream));
      }
      path.pop_back();
    }
    return Status::Ok();
  }
};

// The storages and streams to write, as a tree.
struct Node {
  std::map<std::string, Node> storages;
  std::vector<const CompoundStream*> streams;
};

Status CheckName(const std::string& name) {
  // MS-CFB 2.6.1: at most 31 UTF-16 code units and a terminator; none of
  // '/', '\\', ':' or '!'. Names here are ASCII.
  if (name.empty() || name.size() > 31 || name.find_first_of("/\\:!") != std::string::npos) {
    return Status(
        Code::kInvalidArgument,
        "a compound file entry name must be 1 to 31 characters without / \\ : or ! (not \"" + name +
            "\")");
  }
  return Status::Ok();
}

Status WriteNode(GsfOutfile* parent, const Node& node) {
  for (const auto& [name, child] : node.storages) {
    Ref<GsfOutput> storage(gsf_outfile_new_child(parent, name.c_str(), TRUE));
    if (storage == nullptr) return Status(Code::kInternal, "libgsf could not add a storage");
    RETURN_IF_ERROR(WriteNode(GSF_OUTFILE(storage.get()), child));
    if (!gsf_output_close(storage.get())) {
      return Status(Code::kInternal, "libgsf could not close a storage");
    }
  }
  for (const CompoundStream* s : node.streams) {
    Ref<GsfOutput> stream(gsf_outfile_new_child(parent, s->path.back().c_str(), FALSE));
    if (stream == nullptr) return Status(Code::kInternal, "libgsf could not add a stream");
    if (!s->data.empty() && !gsf_output_write(stream.get(), s->data.size(),
                                              reinterpret_cast<const guint8*>(s->data.data()))) {
      return Status(Code::kInternal, "libgsf could not write a stream");
    }
    if (!gsf_output_close(stream.get())) {
      return Status(Code::kInternal, "libgsf could not close a stream");
    }
  }
  return Status::Ok();
}

}  // namespace

const CompoundStream* CompoundFile::Find(const std::vector<std::string>& path) const {
  for (const auto& s : streams) {
    if (s.path == path) return &s;
  }
  return nullptr;
}

bool CompoundFile::HasStorage(const std::vector<std::string>& path) const {
  return std::find(storages.begin(), storages.end(), path) != storages.end();
}

bool LooksLikeCompoundFile(std::string_view bytes) {
  return bytes.substr(0, kCompoundFileMagic.size()) == kCompoundFileMagic;
}

std::string PathText(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& name : path) {
    if (!out.empty()) out += '/';
    for (unsigned char c : name) {
      if (c < 0x20 || c >= 0x7f) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out.empty() ? "the root storage" : out;
}

Result<CompoundFile> ReadCompoundFile(std::string_view bytes) {
  if (bytes.size() > kMaxCompoundFileBytes) {
    return Status(Code::kTooLarge, "the compound file is larger than " +
                                       std::to_string(kMaxCompoundFileBytes) + " bytes");
  }
  if (!LooksLikeCompoundFile(bytes)) {
    return Status(Code::kMalformed,
                  "not a compound file (MS-CFB): it does not start with D0 CF 11 E0 A1 B1 1A E1");
  }
  // MS-CFB 2.2: a 512-byte header, then whole sectors.
  if (bytes.size() < 512) {
    return Status(Code::kMalformed,
                  "the compound file is cut short: " + std::to_string(bytes.size()) +
                      " bytes, less than its 512-byte header");
  }
  InitGsf();
  Reader reader;
  reader.bytes = bytes;
  g_warning_sink = &reader.warning;
  struct ClearSink {
    ~ClearSink() { g_warning_sink = nullptr; }
  } clear_sink;
  Ref<GsfInput> input(gsf_input_memory_new(reinterpret_cast<const guint8*>(bytes.data()),
                                           static_cast<gsf_off_t>(bytes.size()), FALSE));
  GError* error = nullptr;
  Ref<GsfInfile> root(gsf_infile_msole_new(input.get(), &error));
  if (root == nullptr) {
    std::string why = error != nullptr && error->message != nullptr ? error->message : "";
    if (error != nullptr) g_error_free(error);
    return Damaged(why.empty() ? "libgsf cannot read it" : why, reader.warning);
  }
  std::vector<std::string> path;
  RETURN_IF_ERROR(reader.Walk(root.get(), path));
  // libgsf warns, and reads on past, what it finds wrong (an entry met
  // twice in the directory, a chain without its end); any of it is damage.
  if (!reader.warning.empty()) return Damaged("libgsf found it invalid", reader.warning);
  return std::move(reader.out);
}

Result<std::string> WriteCompoundFile(const CompoundFile& file) {
  Node root;
  auto storage_at = [&root](const std::vector<std::string>& path, size_t depth) -> Result<Node*> {
    Node* node = &root;
    for (size_t i = 0; i < depth; ++i) {
      RETURN_IF_ERROR(CheckName(path[i]));
      node = &node->storages[path[i]];
    }
    return node;
  };
  for (const auto& s : file.storages) {
    if (s.empty()) return Status(Code::kInvalidArgument, "a storage needs a name");
    RETURN_IF_ERROR(storage_at(s, s.size()).status());
  }
  for (const auto& s : file.streams) {
    if (s.path.empty()) return Status(Code::kInvalidArgument, "a stream needs a name");
    RETURN_IF_ERROR(CheckName(s.path.back()));
    ASSIGN_OR_RETURN(Node * parent, storage_at(s.path, s.path.size() - 1));
    if (parent->storages.count(s.path.back()) != 0) {
      return Status(Code::kInvalidArgument, PathText(s.path) + " is both a storage and a stream");
    }
    for (const CompoundStream* other : parent->streams) {
      if (other->path.back() == s.path.back()) {
        return Status(Code::kInvalidArgument, PathText(s.path) + " is named twice");
      }
    }
    parent->streams.push_back(&s);
  }
  InitGsf();
  Ref<GsfOutput> sink(gsf_output_memory_new());
  Ref<GsfOutfile> ole(gsf_outfile_msole_new(sink.get()));
  if (ole == nullptr) return Status(Code::kInternal, "libgsf could not start a compound file");
  RETURN_IF_ERROR(WriteNode(ole.get(), root));
  if (!gsf_output_close(GSF_OUTPUT(ole.get()))) {
    return Status(Code::kInternal, "libgsf could not finish the compound file");
  }
  const guint8* bytes = gsf_output_memory_get_bytes(GSF_OUTPUT_MEMORY(sink.get()));
  const gsf_off_t size = gsf_output_size(sink.get());
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
}

}  // namespace openrms::formats
