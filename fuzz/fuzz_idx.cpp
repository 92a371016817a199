// Fuzz target: tttlab::read_idx, plain and gzip. The first input byte picks the path: odd means
// "gzip-compress the rest first", so that mutations of the IDX structure also reach the reader
// through zlib; even means "write the rest as it is" (which covers damaged gzip streams as well,
// since the reader detects gzip by its magic bytes).
#include <zlib.h>

#include <vector>

#include "fuzz_support.hpp"
#include "tttlab/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const auto path = tttlab::fuzz::scratch_dir() / "input.idx";
  const bool compress = (data[0] & 1) != 0;
  ++data, --size;
  if (compress) {
    gzFile gz = gzopen(path.c_str(), "wb");
    if (gz == nullptr) tttlab::fuzz::finding("harness", "gzopen failed");
    if (size > 0 && gzwrite(gz, data, static_cast<unsigned>(size)) != static_cast<int>(size)) {
      tttlab::fuzz::finding("harness", "gzwrite failed");
    }
    gzclose(gz);
  } else {
    tttlab::fuzz::write_bytes(path, data, size);
  }
  tttlab::fuzz::expect_success_or_input_error([&] { (void)tttlab::read_idx(path); });
  return 0;
}
