#pragma once
// Writes small zip archives for the tests (.npz files, torch.save's zip format): each member stored
// or raw-deflated with zlib, with local headers, a central directory and the end record, as
// Python's zipfile writes them for small files. numpy's np.savez opens every member with
// force_zip64=True, which adds a zip64 extra field (the two sizes as 64-bit numbers) to each local
// header; `zip64_local_extra` writes that too.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "test_support.hpp"

namespace tttlab::test {

struct ZipMember {
  std::string name, bytes;
};

inline std::string raw_deflate(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// The archive's bytes; `deflated` picks the compression method of every member.
inline std::string zip_bytes(const std::vector<ZipMember>& members, bool deflated, bool zip64_local_extra = false) {
  auto u16 = [](std::string& s, uint32_t v) {
    s += static_cast<char>(v & 0xff);
    s += static_cast<char>((v >> 8) & 0xff);
  };
  auto u32 = [&](std::string& s, uint32_t v) {
    u16(s, v & 0xffff);
    u16(s, v >> 16);
  };
  std::string out, central;
  for (const ZipMember& m : members) {
    const std::string data = deflated ? raw_deflate(m.bytes) : m.bytes;
    const auto crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(m.bytes.data()), static_cast<uInt>(m.bytes.size())));
    const auto offset = static_cast<uint32_t>(out.size());
    const uint32_t method = deflated ? 8 : 0, date = (1 << 5) | 1;  // 1980-01-01
    // local file header
    u32(out, 0x04034b50);
    u16(out, 20);
    u16(out, 0);
    u16(out, method);
    u16(out, 0);
    u16(out, date);
    u32(out, crc);
    u32(out, static_cast<uint32_t>(data.size()));
    u32(out, static_cast<uint32_t>(m.bytes.size()));
    u16(out, static_cast<uint32_t>(m.name.size()));
    u16(out, zip64_local_extra ? 20 : 0);
    out += m.name;
    if (zip64_local_extra) {
      u16(out, 0x0001);  // zip64 extended information
      u16(out, 16);
      for (const uint64_t v : {static_cast<uint64_t>(m.bytes.size()), static_cast<uint64_t>(data.size())}) {
        u32(out, static_cast<uint32_t>(v & 0xffffffffu));
        u32(out, static_cast<uint32_t>(v >> 32));
      }
    }
    out += data;
    // its central directory entry
    u32(central, 0x02014b50);
    u16(central, 20);
    u16(central, 20);
    u16(central, 0);
    u16(central, method);
    u16(central, 0);
    u16(central, date);
    u32(central, crc);
    u32(central, static_cast<uint32_t>(data.size()));
    u32(central, static_cast<uint32_t>(m.bytes.size()));
    u16(central, static_cast<uint32_t>(m.name.size()));
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u32(central, 0);
    u32(central, offset);
    central += m.name;
  }
  const auto cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  u32(out, 0x06054b50);
  u16(out, 0);
  u16(out, 0);
  u16(out, static_cast<uint32_t>(members.size()));
  u16(out, static_cast<uint32_t>(members.size()));
  u32(out, static_cast<uint32_t>(central.size()));
  u32(out, cd_offset);
  u16(out, 0);
  return out;
}

inline void write_zip(const std::filesystem::path& path, const std::vector<ZipMember>& members, bool deflated,
                      bool zip64_local_extra = false) {
  write_bytes(path, zip_bytes(members, deflated, zip64_local_extra));
}

// An .npz holding the .npy files of an embedding folder (every *.npy in `dir`, sorted by name), with
// numpy's zip64 local headers.
inline void write_npz_of_folder(const std::filesystem::path& dir, const std::filesystem::path& npz, bool deflated) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".npy") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<ZipMember> members;
  for (const auto& f : files) members.push_back({f.filename().string(), read_bytes(f)});
  write_zip(npz, members, deflated, /*zip64_local_extra=*/true);
}

}  // namespace tttlab::test
