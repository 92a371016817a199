#pragma once
// NumPy .npz archives, as np.savez and np.savez_compressed write them: a zip file whose members are
// .npy files named after the arrays ("train_features.npy"), stored or deflated. libzip reads the zip
// (it checks the archive's structure and each member's CRC-32); io/npy.cpp reads each member.
// Every problem (not a zip file, a corrupt archive or member, a missing member, a member that is not
// a .npy file) throws tttlab::InputError with one line that names the file and the member.
// A build without libzip (CMake's TTTLAB_HAVE_LIBZIP off) refuses every .npz with such a line.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace tttlab {

class NpzArchive {
 public:
  explicit NpzArchive(const std::filesystem::path& path);
  ~NpzArchive();
  NpzArchive(const NpzArchive&) = delete;
  NpzArchive& operator=(const NpzArchive&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& members() const { return members_; }  // in archive order
  bool has(const std::string& member) const;
  // The .npy member `member` (e.g. "train_features.npy") as read_npy would read it from a file.
  torch::Tensor read(const std::string& member) const;
  // "<path>, member <member>": how messages name a member.
  std::string describe(const std::string& member) const;

 private:
  std::filesystem::path path_;
  void* zip_ = nullptr;  // libzip's zip_t, kept opaque so that this header does not need libzip
  std::vector<std::string> members_;
};

}  // namespace tttlab
