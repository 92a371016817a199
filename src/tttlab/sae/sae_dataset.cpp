#include "tttlab/sae/sae_dataset.hpp"

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/data/builtin.hpp"
#include "tttlab/io/npy.hpp"

namespace tttlab {

namespace fs = std::filesystem;

void normalize_rows_(Dataset& data) {
  auto unit = [](torch::Tensor& x) { x = x / x.norm(2, {1}, true).clamp_min(1e-12); };
  unit(data.train.x);
  unit(data.test.x);
  if (data.val) unit(data.val->x);
}

DatasetEncoding encode_dataset(const TopKSae& sae, const Dataset& data, torch::Device device) {
  require_input(!data.is_images,
                "{}: the SAE encodes feature vectors; this data set holds images (embed them "
                "first, e.g. `tttlab run --export-embeddings DIR`)",
                data.name);
  require_input(data.train.x.size(1) == sae.input_dim(), "{}: features have width {}, the SAE expects {}", data.name,
                data.train.x.size(1), sae.input_dim());
  DatasetEncoding enc;
  enc.train = sae_encode(sae, data.train.x, 8192, device);
  enc.test = sae_encode(sae, data.test.x, 8192, device);
  if (data.val) enc.val = sae_encode(sae, data.val->x, 8192, device);
  return enc;
}

Dataset reconstruction_dataset(const Dataset& data, const DatasetEncoding& enc) {
  Dataset out;
  out.name = data.name + " (SAE reconstruction)";
  out.num_classes = data.num_classes;
  out.train = {enc.train.reconstruction, data.train.y};
  out.test = {enc.test.reconstruction, data.test.y};
  if (data.val) out.val = Split{enc.val->reconstruction, data.val->y};
  return out;
}

nlohmann::json write_dataset_encoding(const fs::path& dir, const TopKSae& sae, const Dataset& data,
                                      const DatasetEncoding& enc) {
  const fs::path concepts = dir / "concepts";
  fs::create_directories(concepts);
  nlohmann::json j{{"input_dim", sae.input_dim()},
                   {"latent_dim", sae.latent_dim()},
                   {"k", sae.k},
                   {"data", data.name},
                   {"splits", nlohmann::json::object()}};
  auto write = [&](const std::string& split, const Split& s, const SaeEncoding& e) {
    write_npy(concepts / (split + "_indices.npy"), e.codes.indices);
    write_npy(concepts / (split + "_values.npy"), e.codes.values);
    write_npy(concepts / (split + "_labels.npy"), s.y);
    const ReconstructionQuality q = reconstruction_quality(s.x, e.reconstruction);
    const double active = e.codes.values.gt(0).sum(1).to(torch::kDouble).mean().item<double>();
    j["splits"][split] = {{"rows", s.size()}, {"mse", q.mse}, {"fve", q.fve}, {"mean_active", active}};
  };
  write("train", data.train, enc.train);
  write("test", data.test, enc.test);
  if (data.val) write("val", *data.val, *enc.val);
  write_embedding_folder(dir / "reconstructions", reconstruction_dataset(data, enc));
  write_text_atomically(dir / "encode.json", j.dump(2) + "\n");
  return j;
}

}  // namespace tttlab
