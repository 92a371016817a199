// Recognising torch.save files by their first and last bytes, without mistaking a safetensors file
// whose header length starts with the same two bytes.
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "zip_writer.hpp"
#include "tttlab/io/pytorch_pickle.hpp"
#include "tttlab/io/safetensors.hpp"

using tttlab::pytorch_pickle_kind;
using tttlab::PytorchPickle;

TEST(PytorchPickle, RecognisesBothFormats) {
  tttlab::test::TempDir dir;
  tttlab::test::write_zip(dir / "zip.pt", {{"archive/data.pkl", "\x80\x02}."}, {"archive/version", "3\n"}}, true);
  EXPECT_EQ(pytorch_pickle_kind(dir / "zip.pt"), PytorchPickle::Zip);
  // data.pkl beyond the first 64 KiB is still found, in the central directory at the end.
  tttlab::test::write_zip(dir / "big.pt", {{"archive/data/0", std::string(200'000, 'x')}, {"archive/data.pkl", "."}},
                          false);
  EXPECT_EQ(pytorch_pickle_kind(dir / "big.pt"), PytorchPickle::Zip);
  for (const char protocol : {'\x02', '\x04', '\x05'}) {
    tttlab::test::write_bytes(dir / "legacy.pt",
                              std::string("\x80") + protocol + std::string("\x95\x10\0\0\0\0\0\0\0.", 10));
    EXPECT_EQ(pytorch_pickle_kind(dir / "legacy.pt"), PytorchPickle::Legacy) << int{protocol};
  }
}

TEST(PytorchPickle, OtherFilesAreNotPickles) {
  tttlab::test::TempDir dir;
  // A zip without data.pkl (an .npz, say).
  tttlab::test::write_zip(dir / "a.npz", {{"weight.npy", "\x93NUMPY"}}, false);
  EXPECT_EQ(pytorch_pickle_kind(dir / "a.npz"), PytorchPickle::None);
  // A safetensors file.
  tttlab::write_safetensors(dir / "h.safetensors", {{"weight", torch::zeros({2, 3})}, {"bias", torch::zeros({2})}});
  EXPECT_EQ(pytorch_pickle_kind(dir / "h.safetensors"), PytorchPickle::None);
  // A safetensors header of 640 bytes starts with 0x80 0x02 like a pickle, then '{' at byte 8.
  tttlab::test::write_bytes(dir / "640.safetensors",
                            std::string("\x80\x02\0\0\0\0\0\0", 8) + "{" + std::string(639, ' '));
  EXPECT_EQ(pytorch_pickle_kind(dir / "640.safetensors"), PytorchPickle::None);
  // Tiny, empty and absent files.
  tttlab::test::write_bytes(dir / "tiny", "\x80\x02");
  EXPECT_EQ(pytorch_pickle_kind(dir / "tiny"), PytorchPickle::None);
  EXPECT_EQ(pytorch_pickle_kind(dir / "absent"), PytorchPickle::None);
}
