#pragma once
// Recognises files written by torch.save, so that a user who passes one where a safetensors file is
// expected is told what it is and how to convert it, instead of getting a safetensors parse error.
// tttlab never loads these files: unpickling can run arbitrary code.
#include <filesystem>

namespace tttlab {

enum class PytorchPickle {
  None,    // not a torch.save file (as far as the first and last bytes tell)
  Zip,     // torch.save's default format since PyTorch 1.6: a zip archive with a <name>/data.pkl member
  Legacy,  // the older format (_use_new_zipfile_serialization=False): a bare pickle, protocol 2-5
};

// Looks at the file's first and last 64 KiB only; a file that cannot be read is PytorchPickle::None
// (the real reader reports it).
PytorchPickle pytorch_pickle_kind(const std::filesystem::path& path);

}  // namespace tttlab
