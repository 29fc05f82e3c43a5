#include "formats/pfile.h"

#include "base/text.h"
#include "formats/little_endian.h"

namespace openrms::formats {

namespace {

constexpr std::string_view kPreamble = ".pfile";
constexpr uint32_t kHeaderSize = 40;

void Put32(std::string& out, uint32_t v) { PutLittle(out, v); }
void Put64(std::string& out, uint64_t v) { PutLittle(out, v); }

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U32(uint32_t& v) {
    if (pos_ + 4 > b_.size()) return false;
    v = GetLittle<uint32_t>(b_, pos_);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t& v) {
    if (pos_ + 8 > b_.size()) return false;
    v = GetLittle<uint64_t>(b_, pos_);
    pos_ += 8;
    return true;
  }
  size_t pos() const { return pos_; }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

Status Truncated() { return Status(Code::kMalformed, "the protected file is cut short"); }

Result<std::string> Part(std::string_view bytes, uint32_t offset, uint32_t length,
                         const char* what) {
  if (length > kMaxPfileHeaderPart) {
    return Status(Code::kTooLarge, std::string("the protected file's ") + what + " is too large");
  }
  if (uint64_t{offset} + length > bytes.size()) {
    return Status(Code::kMalformed,
                  std::string("the protected file's ") + what + " lies outside the file");
  }
  return std::string(bytes.substr(offset, length));
}

}  // namespace

std::string WritePfile(const Pfile& f) {
  std::string out(kPreamble);
  Put32(out, f.major_version);
  Put32(out, f.minor_version);
  Put32(out, static_cast<uint32_t>(f.notice.size()));
  out += f.notice;
  const uint32_t header_offset = static_cast<uint32_t>(out.size());
  const uint32_t ext_offset = header_offset + kHeaderSize;
  const uint32_t pl_offset = ext_offset + static_cast<uint32_t>(f.extension.size());
  const uint32_t meta_offset = pl_offset + static_cast<uint32_t>(f.publishing_license.size());
  const uint32_t content_offset = meta_offset + static_cast<uint32_t>(f.metadata.size());
  Put32(out, kHeaderSize);
  Put32(out, ext_offset);
  Put32(out, static_cast<uint32_t>(f.extension.size()));
  Put32(out, pl_offset);
  Put32(out, static_cast<uint32_t>(f.publishing_license.size()));
  Put32(out, content_offset);
  Put64(out, f.original_size);
  Put32(out, meta_offset);
  Put32(out, static_cast<uint32_t>(f.metadata.size()));
  out += f.extension;
  out += f.publishing_license;
  out += f.metadata;
  out += f.content;
  return out;
}

Result<Pfile> ReadPfile(std::string_view bytes) {
  if (bytes.substr(0, kPreamble.size()) != kPreamble) {
    return Status(Code::kMalformed, "the file is not a protected file (no .pfile preamble)");
  }
  Pfile f;
  Reader r(bytes);
  r.Skip(kPreamble.size());
  uint32_t notice_len = 0;
  if (!r.U32(f.major_version) || !r.U32(f.minor_version) || !r.U32(notice_len)) return Truncated();
  if (f.major_version < 2 || f.major_version > 3) {
    return Status(Code::kUnsupported, "protected files of version " +
                                          std::to_string(f.major_version) +
                                          " are not supported (versions 2 and 3 are)");
  }
  ASSIGN_OR_RETURN(f.notice, Part(bytes, static_cast<uint32_t>(r.pos()), notice_len, "notice"));
  r.Skip(notice_len);
  uint32_t header_size = 0, ext_off = 0, ext_len = 0, pl_off = 0, pl_len = 0, content_off = 0,
           meta_off = 0, meta_len = 0;
  if (!r.U32(header_size) || !r.U32(ext_off) || !r.U32(ext_len) || !r.U32(pl_off) ||
      !r.U32(pl_len) || !r.U32(content_off) || !r.U64(f.original_size)) {
    return Truncated();
  }
  if (header_size >= kHeaderSize) {
    if (!r.U32(meta_off) || !r.U32(meta_len)) return Truncated();
  }
  if (ext_len > 256) return Status(Code::kMalformed, "the protected file's extension is too long");
  ASSIGN_OR_RETURN(f.extension, Part(bytes, ext_off, ext_len, "extension"));
  ASSIGN_OR_RETURN(f.publishing_license, Part(bytes, pl_off, pl_len, "publishing license"));
  if (f.publishing_license.empty()) {
    return Status(Code::kMalformed, "the protected file holds no publishing license");
  }
  ASSIGN_OR_RETURN(f.metadata, Part(bytes, meta_off, meta_len, "metadata"));
  if (content_off > bytes.size()) {
    return Status(Code::kMalformed, "the protected file's content lies outside the file");
  }
  f.content = std::string(bytes.substr(content_off));
  return f;
}

}  // namespace openrms::formats
