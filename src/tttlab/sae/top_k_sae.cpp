#include "tttlab/sae/top_k_sae.hpp"

#include <fstream>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/io/safetensors.hpp"

namespace tttlab {

namespace fs = std::filesystem;

TopKSae init_sae(int64_t input_dim, int64_t latent_dim, int64_t k, bool relu, uint64_t seed,
                 const torch::Tensor& data_mean) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto e = at::normal(0.0, 1.0, {latent_dim, input_dim}, gen).to(torch::kFloat);
  e.div_(e.norm(2, {1}, true).clamp_min(1e-12));
  TopKSae sae;
  sae.encoder = e;
  sae.decoder = e.t().contiguous();
  if (data_mean.defined()) sae.pre_bias = data_mean.to(torch::kFloat).reshape({input_dim}).clone();
  sae.k = k;
  sae.relu = relu;
  return sae;
}

torch::Tensor sae_pre_activations(const TopKSae& sae, const torch::Tensor& x) {
  const auto centred = sae.pre_bias.defined() ? x - sae.pre_bias : x;
  return torch::matmul(centred, sae.encoder.t());
}

SparseCodes top_k_codes(const torch::Tensor& pre, int64_t k, bool relu) {
  auto [values, indices] = torch::topk(pre, k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
  if (relu) values = torch::relu(values);
  return {indices, values};
}

torch::Tensor decode_dense(const TopKSae& sae, const SparseCodes& codes) {
  const auto dense = torch::zeros({codes.indices.size(0), sae.decoder.size(1)}, codes.values.options())
                         .scatter(1, codes.indices, codes.values);
  auto out = torch::matmul(dense, sae.decoder.t());
  return sae.pre_bias.defined() ? out + sae.pre_bias : out;
}

torch::Tensor decode_gather(const TopKSae& sae, const SparseCodes& codes) {
  const int64_t n = codes.indices.size(0), k = codes.indices.size(1);
  // Each row of the codes is one bag of k rows of D^T (the transposed copy is 4 d1 d2 bytes; its
  // gradient flows back to D through autograd).
  const auto table = sae.decoder.t().contiguous();
  const auto offsets = torch::arange(0, n * k, k, codes.indices.options());
  auto out = std::get<0>(torch::embedding_bag(table, codes.indices.reshape({-1}), offsets,
                                              /*scale_grad_by_freq=*/false, /*mode=sum*/ 0, /*sparse=*/false,
                                              codes.values.reshape({-1})));
  return sae.pre_bias.defined() ? out + sae.pre_bias : out;
}

torch::Tensor decode_sparse(const TopKSae& sae, const SparseCodes& codes) {
  const bool gather = codes.values.is_cuda() && codes.indices.size(1) <= kGatherDecodeMaxK;
  return gather ? decode_gather(sae, codes) : decode_dense(sae, codes);
}

torch::Tensor codes_to_dense(const SparseCodes& codes, int64_t latent_dim) {
  return torch::zeros({codes.indices.size(0), latent_dim}, codes.values.options())
      .scatter_(1, codes.indices, codes.values);
}

void normalize_decoder_columns_(torch::Tensor& decoder) {
  torch::NoGradGuard no_grad;
  decoder.div_(decoder.norm(2, {0}, true).clamp_min(1e-12));
}

SaeEncoding sae_encode(const TopKSae& sae_in, const torch::Tensor& x, int64_t batch_size, torch::Device device,
                       int64_t k) {
  torch::NoGradGuard no_grad;
  require_input(x.dim() == 2 && x.size(1) == sae_in.input_dim(),
                "SAE encode: features have width {}, the SAE expects {}", x.dim() == 2 ? x.size(1) : -1,
                sae_in.input_dim());
  TopKSae sae = sae_in;
  sae.encoder = sae.encoder.to(device);
  sae.decoder = sae.decoder.to(device);
  if (sae.pre_bias.defined()) sae.pre_bias = sae.pre_bias.to(device);
  if (k <= 0) k = sae.k;
  const int64_t n = x.size(0);
  SaeEncoding out;
  out.codes.indices = torch::empty({n, k}, torch::kLong);
  out.codes.values = torch::empty({n, k}, torch::kFloat);
  out.reconstruction = torch::empty({n, sae.input_dim()}, torch::kFloat);
  for (int64_t s = 0; s < n; s += batch_size) {
    const int64_t e = std::min(n, s + batch_size);
    const auto xb = x.slice(0, s, e).to(device, torch::kFloat);
    const SparseCodes codes = top_k_codes(sae_pre_activations(sae, xb), k, sae.relu);
    out.codes.indices.slice(0, s, e).copy_(codes.indices);
    out.codes.values.slice(0, s, e).copy_(codes.values);
    out.reconstruction.slice(0, s, e).copy_(decode_sparse(sae, codes));
  }
  return out;
}

ReconstructionQuality reconstruction_quality(const torch::Tensor& x, const torch::Tensor& x_hat) {
  torch::NoGradGuard no_grad;
  // Two passes over blocks of rows in float64: float64 copies of the whole matrices and their
  // differences would take several times the data's memory (each is 5.2 GB at ImageNet's 1.28M x 512).
  const int64_t n = x.size(0), block = 65536;
  auto rows = [&](const torch::Tensor& t, int64_t s) {
    return t.slice(0, s, std::min(n, s + block)).to(torch::kDouble);
  };
  auto mean = torch::zeros(x.sizes().slice(1), x.options().dtype(torch::kDouble));
  for (int64_t s = 0; s < n; s += block) mean += rows(x, s).sum(0);
  mean /= static_cast<double>(std::max<int64_t>(1, n));
  double sse = 0, sst = 0;
  for (int64_t s = 0; s < n; s += block) {
    const auto xd = rows(x, s);
    sse += (xd - rows(x_hat, s)).pow(2).sum().item<double>();
    sst += (xd - mean).pow(2).sum().item<double>();
  }
  return {sse / static_cast<double>(std::max<int64_t>(1, x.numel())), sst > 0 ? 1.0 - sse / sst : 0.0};
}

void save_sae(const fs::path& dir, const TopKSae& sae, const nlohmann::json& extra) {
  fs::create_directories(dir);
  std::map<std::string, torch::Tensor> tensors{{"encoder.weight", sae.encoder.to(torch::kCPU)},
                                               {"decoder.weight", sae.decoder.to(torch::kCPU)}};
  if (sae.pre_bias.defined()) tensors["pre_bias"] = sae.pre_bias.to(torch::kCPU);
  write_safetensors(dir / "sae.safetensors", tensors, {{"format", "tttlab-topk-sae"}});
  nlohmann::json j = extra;
  j["input_dim"] = sae.input_dim();
  j["latent_dim"] = sae.latent_dim();
  j["k"] = sae.k;
  j["relu"] = sae.relu;
  j["pre_bias"] = sae.pre_bias.defined();
  write_text_atomically(dir / "sae.json", j.dump(2) + "\n");
}

std::optional<bool> sae_input_normalized(const fs::path& dir) {
  std::ifstream in(dir / "sae.json");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("input_normalized") || !j["input_normalized"].is_boolean()) return std::nullopt;
  return j["input_normalized"].get<bool>();
}

TopKSae load_sae(const fs::path& dir) {
  const fs::path json_path = dir / "sae.json", weights_path = dir / "sae.safetensors";
  require_input(fs::exists(json_path), "{}: not found (expected an SAE folder written by `tttlab sae train`)",
                json_path.string());
  nlohmann::json j;
  try {
    std::ifstream in(json_path);
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", json_path.string(), e.what());
  }
  TopKSae sae;
  int64_t d1 = 0, d2 = 0;
  bool has_bias = false;
  try {
    d2 = j.at("input_dim").get<int64_t>();
    d1 = j.at("latent_dim").get<int64_t>();
    sae.k = j.at("k").get<int64_t>();
    sae.relu = j.at("relu").get<bool>();
    has_bias = j.at("pre_bias").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("{}: missing or bad field ({})", json_path.string(), e.what());
  }
  require_input(d1 >= 1 && d2 >= 1 && sae.k >= 1 && sae.k <= d1, "{}: bad sizes input_dim={} latent_dim={} k={}",
                json_path.string(), d2, d1, sae.k);
  const SafetensorsFile file = read_safetensors(weights_path);
  sae.encoder = require_tensor(file, weights_path, "encoder.weight", {d1, d2}).to(torch::kFloat);
  sae.decoder = require_tensor(file, weights_path, "decoder.weight", {d2, d1}).to(torch::kFloat);
  if (has_bias) sae.pre_bias = require_tensor(file, weights_path, "pre_bias", {d2}).to(torch::kFloat);
  require_input(torch::isfinite(sae.encoder).all().item<bool>() && torch::isfinite(sae.decoder).all().item<bool>() &&
                    (!has_bias || torch::isfinite(sae.pre_bias).all().item<bool>()),
                "{}: the weights hold NaN or Inf", weights_path.string());
  return sae;
}

}  // namespace tttlab
