#pragma once
// An SAE applied to a whole data set: Phi-hat (sparse codes) and Psi-hat (reconstructions) of every
// split, and the files `tttlab sae encode` writes:
//   DIR/concepts/<split>_indices.npy  int64 [N, s]  selected units, by decreasing value
//   DIR/concepts/<split>_values.npy   float32 [N, s] their values (0 = inactive)
//   DIR/concepts/<split>_labels.npy   int64 [N]
//   DIR/reconstructions/              Psi-hat as an embedding folder (usable as --data npy:DIR)
//   DIR/encode.json                   d1, s, and the reconstruction MSE / FVE of each split (last)
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "tttlab/data/dataset.hpp"
#include "tttlab/sae/top_k_sae.hpp"

namespace tttlab {

struct DatasetEncoding {
  SaeEncoding train, test;
  std::optional<SaeEncoding> val;
};

// Scales every feature row of every split to unit L2 norm (the paper's CLIP embeddings are unit
// vectors), in place.
void normalize_rows_(Dataset& data);

// Encodes every split of an embedding data set (feature vectors, not images).
DatasetEncoding encode_dataset(const TopKSae& sae, const Dataset& data, torch::Device device = torch::kCPU);

// Psi-hat of every split as a Dataset of feature vectors with the original labels.
Dataset reconstruction_dataset(const Dataset& data, const DatasetEncoding& enc);

// Writes the files listed above; returns encode.json's content.
nlohmann::json write_dataset_encoding(const std::filesystem::path& dir, const TopKSae& sae, const Dataset& data,
                                      const DatasetEncoding& enc);

}  // namespace tttlab
