#include "tttlab/sae/sae_train.hpp"

#include <chrono>
#include <cmath>
#include <fstream>

#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <fmt/format.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/io/safetensors.hpp"
#include "tttlab/ttt/adam.hpp"

namespace tttlab {

namespace fs = std::filesystem;

nlohmann::json SaeEpochMetrics::to_json() const {
  return {{"epoch", epoch},
          {"step", step},
          {"lr", lr},
          {"k", k},
          {"train_mse", train_mse},
          {"ghost_loss", ghost_loss},
          {"ghost_steps", ghost_steps},
          {"eval_mse", eval_mse},
          {"eval_fve", eval_fve},
          {"dead_share", dead_share},
          {"near_dead_share", near_dead_share},
          {"ghost_share", ghost_share},
          {"seconds", seconds}};
}

SaeEpochMetrics SaeEpochMetrics::from_json(const nlohmann::json& j) {
  SaeEpochMetrics m;
  m.epoch = j.at("epoch");
  m.step = j.at("step");
  m.lr = j.at("lr");
  m.k = j.at("k");
  m.train_mse = j.at("train_mse");
  m.ghost_loss = j.at("ghost_loss");
  m.ghost_steps = j.value("ghost_steps", int64_t{0});  // absent in checkpoints of older versions
  m.eval_mse = j.at("eval_mse");
  m.eval_fve = j.at("eval_fve");
  m.dead_share = j.at("dead_share");
  m.near_dead_share = j.at("near_dead_share");
  m.ghost_share = j.at("ghost_share");
  m.seconds = j.at("seconds");
  return m;
}

SaeLoss sae_loss(const TopKSae& sae, const torch::Tensor& x, int64_t k, double dropout, const torch::Tensor& inactive,
                 double ghost_weight) {
  SaeLoss out;
  const auto pre = sae_pre_activations(sae, x);
  const auto pre_selected = dropout > 0 ? torch::dropout(pre, dropout, /*train=*/true) : pre;
  out.codes = top_k_codes(pre_selected, k, sae.relu);
  out.reconstruction = decode_sparse(sae, out.codes);
  out.mse = (out.reconstruction - x).pow(2).mean();
  out.ghost = torch::zeros({}, x.options());
  // The inactive units' indices (one wait for the device per step, as a check for "any" would be).
  const auto units = ghost_weight > 0 && inactive.defined() ? inactive.nonzero().squeeze(1) : torch::Tensor();
  if (units.defined() && units.numel() > 0) {
    // Ghost gradients (Gao et al. 2025; paper eq. 23): the almost-inactive units decode their raw
    // pre-activations and are trained to explain the current residual x - x_hat (held fixed), so
    // they receive a learning signal although top-k never selects them. Only their columns enter
    // the product: (pre * mask) D^T = pre[:, units] D[:, units]^T, a sliver of the dense product
    // when few units are inactive.
    const auto residual = (x - out.reconstruction).detach();
    const auto ghost_recon = torch::matmul(pre.index_select(1, units), sae.decoder.index_select(1, units).t());
    out.ghost = (residual - ghost_recon).pow(2).mean();
    out.ghost_units = units.numel();
  }
  out.total = ghost_weight > 0 ? out.mse + ghost_weight * out.ghost : out.mse;
  return out;
}

namespace {

uint64_t mix_seed(uint64_t seed, uint64_t stream, uint64_t n) {  // splitmix64 of (seed, stream, n)
  uint64_t z = seed ^ (stream * 0x9E3779B97F4A7C15ULL) ^ (n * 0xBF58476D1CE4E5B9ULL + 0x94D049BB133111EBULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

// The trainable tensors and their Adam moments, by name (also the checkpoint's tensor names).
struct TrainState {
  TopKSae sae;
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
  torch::Tensor counts;       // int64 [d1]: activations of each unit over all samples seen
  torch::Tensor recent_freq;  // float64 [d1]: moving-average activation frequency (dead_window > 0)
  int64_t samples_seen = 0;
  int64_t step = 0, epoch = 0;
  std::vector<SaeEpochMetrics> history;

  void bind() {
    names = {"encoder.weight", "decoder.weight"};
    params = {sae.encoder, sae.decoder};
    if (sae.pre_bias.defined()) {
      names.push_back("pre_bias");
      params.push_back(sae.pre_bias);
    }
    for (auto& p : params) p.set_requires_grad(true);
  }
};

// Activation frequency of every unit (float64 [d1]): since the start, or the moving average.
torch::Tensor activation_frequency(const TrainState& st, const SaeConfig& cfg) {
  if (cfg.dead_window > 0) return st.recent_freq;
  return st.counts.to(torch::kDouble) / static_cast<double>(std::max<int64_t>(1, st.samples_seen));
}

void write_checkpoint(const fs::path& path, const TrainState& st, const SaeConfig& cfg, int64_t rows,
                      const nlohmann::json& extra) {
  std::map<std::string, torch::Tensor> tensors;
  for (size_t i = 0; i < st.params.size(); ++i) {
    tensors[st.names[i]] = st.params[i].detach().to(torch::kCPU);
    tensors["adam." + st.names[i] + ".exp_avg"] = st.exp_avg[i].to(torch::kCPU);
    tensors["adam." + st.names[i] + ".exp_avg_sq"] = st.exp_avg_sq[i].to(torch::kCPU);
  }
  tensors["activation_counts"] = st.counts.to(torch::kCPU);
  tensors["activation_recent_frequency"] = st.recent_freq.to(torch::kCPU);
  nlohmann::json history = nlohmann::json::array();
  for (const auto& m : st.history) history.push_back(m.to_json());
  write_safetensors(path, tensors,
                    {{"format", "tttlab-topk-sae-checkpoint"},
                     {"step", std::to_string(st.step)},
                     {"epoch", std::to_string(st.epoch)},
                     {"samples_seen", std::to_string(st.samples_seen)},
                     {"rows", std::to_string(rows)},
                     {"config", cfg.to_json().dump()},
                     {"extra", extra.dump()},
                     {"history", history.dump()}});
}

// A checkpoint's JSON metadata entry `key`; `fallback` when an older checkpoint lacks it (absent:
// InputError).
nlohmann::json checkpoint_json(const SafetensorsFile& file, const fs::path& path, const std::string& key,
                               const std::optional<nlohmann::json>& fallback = std::nullopt) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end() && fallback) return *fallback;
  require_input(it != file.metadata.end(), "{}: the checkpoint has no '{}' entry", path.string(), key);
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  require_input(!j.is_discarded(), "{}: the checkpoint's {} is not valid JSON", path.string(), key);
  return j;
}

void require_same_settings(const fs::path& path, const nlohmann::json& saved, const nlohmann::json& now) {
  for (const auto& [key, value] : now.items()) {
    require_input(saved.contains(key) && saved.at(key) == value,
                  "{}: the checkpoint was trained with {}={}, this run asks for {} (resume needs the same "
                  "settings)",
                  path.string(), key, saved.contains(key) ? saved.at(key).dump() : "nothing", value.dump());
  }
}

void read_checkpoint(const fs::path& path, TrainState& st, const SaeConfig& cfg, const nlohmann::json& extra,
                     int64_t rows, int64_t d2, int64_t d1, torch::Device device) {
  const SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const std::string& key) {
    const auto it = file.metadata.find(key);
    require_input(it != file.metadata.end(), "{}: the checkpoint has no '{}' entry", path.string(), key);
    return it->second;
  };
  require_same_settings(path, checkpoint_json(file, path, "config"), cfg.to_json());
  // Checkpoints from before `extra` was recorded cannot be checked against it.
  if (file.metadata.count("extra")) require_same_settings(path, checkpoint_json(file, path, "extra"), extra);
  require_input(std::stoll(meta("rows")) == rows, "{}: the checkpoint was trained on {} rows, the data has {}",
                path.string(), meta("rows"), rows);
  st.sae.encoder = require_tensor(file, path, "encoder.weight", {d1, d2}).to(device).clone();
  st.sae.decoder = require_tensor(file, path, "decoder.weight", {d2, d1}).to(device).clone();
  if (cfg.pre_bias) st.sae.pre_bias = require_tensor(file, path, "pre_bias", {d2}).to(device).clone();
  st.bind();
  st.exp_avg.clear();
  st.exp_avg_sq.clear();
  for (size_t i = 0; i < st.params.size(); ++i) {
    const auto shape = st.params[i].sizes().vec();
    st.exp_avg.push_back(require_tensor(file, path, "adam." + st.names[i] + ".exp_avg", shape).to(device).clone());
    st.exp_avg_sq.push_back(
        require_tensor(file, path, "adam." + st.names[i] + ".exp_avg_sq", shape).to(device).clone());
  }
  st.counts = require_tensor(file, path, "activation_counts", {d1}).to(device, torch::kLong).clone();
  st.recent_freq = require_tensor(file, path, "activation_recent_frequency", {d1}).to(device, torch::kDouble).clone();
  st.step = std::stoll(meta("step"));
  st.epoch = std::stoll(meta("epoch"));
  st.samples_seen = std::stoll(meta("samples_seen"));
  const nlohmann::json history = nlohmann::json::parse(meta("history"), nullptr, false);
  require_input(history.is_array(), "{}: the checkpoint's history is not a JSON array", path.string());
  st.history.clear();
  for (const auto& h : history) st.history.push_back(SaeEpochMetrics::from_json(h));
}

// Whether any unit can be inactive at a step, answered without waiting for the GPU where possible.
// Activation counts only grow, so the smallest count read back at any earlier step bounds every
// unit's count now from below: when that bound is above threshold * samples seen, no unit is inactive
// and the step needs neither the ghost loss nor the read-back of the inactive units (a device sync
// every step, which leaves the GPU idle while the next kernels are launched). The minimum travels to
// pinned host memory without blocking and is read once its event has passed. For the moving-average
// frequency (dead_window > 0), which can fall, there is no such bound.
class InactiveUnitsBound {
 public:
  explicit InactiveUnitsBound(torch::Device device) : device_(device) {
    if (device_.is_cuda()) {
      host_ = torch::empty({}, torch::TensorOptions().dtype(torch::kLong).pinned_memory(true));
      event_.emplace(device_.type());
    }
  }

  // True only when no unit can have activation frequency <= threshold after samples_seen samples.
  bool none_inactive(int64_t samples_seen, double threshold) {
    if (in_flight_ && event_->query()) {
      known_min_ = host_.item<int64_t>();
      in_flight_ = false;
    }
    // The same float64 division as activation_frequency: count / samples > threshold for the bound
    // implies it for every count at or above it.
    return known_min_ >= 0 && samples_seen > 0 &&
           static_cast<double>(known_min_) / static_cast<double>(samples_seen) > threshold;
  }

  // After a step has added its activations to counts (int64 [d1]).
  void update(const torch::Tensor& counts) {
    if (!device_.is_cuda()) {  // nothing to wait for
      known_min_ = counts.min().item<int64_t>();
      return;
    }
    if (in_flight_) return;
    host_.copy_(counts.min(), /*non_blocking=*/true);
    event_->record(c10::impl::VirtualGuardImpl(device_.type()).getStream(device_));
    in_flight_ = true;
  }

 private:
  torch::Device device_;
  torch::Tensor host_;
  std::optional<c10::Event> event_;
  bool in_flight_ = false;
  int64_t known_min_ = -1;  // -1: nothing known yet
};

std::string log_line(const SaeEpochMetrics& m, int64_t epochs) {
  return fmt::format(
      "epoch {}/{} step {} lr {:.3g} k {} train_mse {:.6g} ghost {:.3g} ghost_steps {} eval_mse {:.6g} fve {:.4f} dead "
      "{:.2f}% "
      "near_dead {:.2f}% ghost_units {:.2f}% {:.1f}s",
      m.epoch, epochs, m.step, m.lr, m.k, m.train_mse, m.ghost_loss, m.ghost_steps, m.eval_mse, m.eval_fve,
      100 * m.dead_share, 100 * m.near_dead_share, 100 * m.ghost_share, m.seconds);
}

}  // namespace

std::vector<std::string> sae_schedule_warnings(const SaeConfig& cfg, int64_t steps_run, int64_t final_k,
                                               double final_fve) {
  std::vector<std::string> w;
  if (cfg.warmup_steps > steps_run) {
    w.push_back(fmt::format(
        "warning: the SAE's learning-rate warm-up ({} steps) is longer than its training ({} steps), so it never "
        "reached its peak lr; use fewer warm-up steps or train longer",
        cfg.warmup_steps, steps_run));
  }
  if (final_k != cfg.k) {
    w.push_back(fmt::format(
        "warning: the SAE's k annealing ({} steps) is longer than its training ({} steps): it was trained at k = {}, "
        "not {} (sae.json records k = {}); use fewer annealing steps or train longer",
        cfg.k_anneal_steps, steps_run, final_k, cfg.k, final_k));
  }
  if (final_fve < 0) {
    w.push_back(fmt::format(
        "warning: the SAE's final FVE is {:.3f} < 0: its reconstructions explain less variance than the mean does "
        "(not converged; its concepts and Table 1 built on them are not meaningful)",
        final_fve));
  }
  return w;
}

SaeTrainResult train_sae(const torch::Tensor& x_in, const SaeConfig& cfg, const SaeTrainOptions& opts) {
  require_input(x_in.dim() == 2 && x_in.size(0) >= 1, "SAE training data must be [N >= 1, d], got {} dimensions",
                x_in.dim());
  const int64_t n = x_in.size(0), d2 = x_in.size(1);
  cfg.validate(d2);
  require_input(torch::isfinite(x_in).all().item<bool>(), "SAE training data holds NaN or Inf");
  require_input(!opts.out_dir.empty(), "SAE training needs an output folder");
  require_input(opts.stop_after_epochs >= 0, "stop-after-epochs={} (expected >= 0)", opts.stop_after_epochs);
  const int64_t d1 = cfg.latent_for(d2);
  const torch::Device device = opts.device;
  const auto fopts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto x = x_in.to(device, torch::kFloat);
  const int64_t batches = (n + cfg.batch_size - 1) / cfg.batch_size;
  const int64_t total_steps = cfg.epochs * batches;

  const fs::path ckpt = opts.out_dir / "checkpoint.safetensors";
  const nlohmann::json extra = opts.extra.is_object() ? opts.extra : nlohmann::json::object();
  const fs::path log_path = opts.out_dir / "train_log.txt";
  const bool resuming = opts.resume && fs::exists(ckpt);
  require_input(resuming || !fs::exists(ckpt),
                "{}: a checkpoint of an earlier run is there; pass --resume to continue it, or use another --out",
                ckpt.string());
  fs::create_directories(opts.out_dir);

  TrainState st;
  if (resuming) {
    read_checkpoint(ckpt, st, cfg, extra, n, d2, d1, device);
  } else {
    st.sae =
        init_sae(d2, d1, cfg.k, cfg.relu, cfg.seed, cfg.pre_bias ? x_in.to(torch::kFloat).mean(0) : torch::Tensor());
    st.sae.encoder = st.sae.encoder.to(device);
    st.sae.decoder = st.sae.decoder.to(device);
    if (st.sae.pre_bias.defined()) st.sae.pre_bias = st.sae.pre_bias.to(device);
    st.bind();
    for (const auto& p : st.params) {
      st.exp_avg.push_back(torch::zeros_like(p).detach());
      st.exp_avg_sq.push_back(torch::zeros_like(p).detach());
    }
    st.counts = torch::zeros({d1}, torch::TensorOptions().dtype(torch::kLong).device(device));
    st.recent_freq = torch::zeros({d1}, torch::TensorOptions().dtype(torch::kDouble).device(device));
    std::ofstream(log_path, std::ios::trunc);  // a fresh run starts a fresh log
  }
  st.sae.k = cfg.k;
  std::ofstream log(log_path, std::ios::app);
  if (resuming) log << fmt::format("resumed from {} at epoch {} (step {})\n", ckpt.string(), st.epoch, st.step);

  // Eval rows: evenly spaced over the training set, the same every epoch.
  const int64_t eval_n = cfg.eval_rows > 0 ? std::min(n, cfg.eval_rows) : n;
  const auto eval_x =
      eval_n == n ? x : x.index_select(0, torch::linspace(0, n - 1, eval_n, fopts).round().to(torch::kLong));
  const AdamHyper hyper_base{cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay};

  SaeTrainResult result;
  int64_t epochs_this_call = 0;
  ProgressBar bar("SAE", (cfg.epochs - st.epoch) * batches, "step");
  InactiveUnitsBound inactive_bound(device);
  const bool bound_applies = opts.bound_inactive_units && cfg.dead_window == 0 && cfg.ghost_weight > 0;
  while (st.epoch < cfg.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    auto gen = at::detail::createCPUGenerator(mix_seed(cfg.seed, 1, static_cast<uint64_t>(st.epoch)));
    const auto order = torch::randperm(n, gen, torch::kLong).to(device);
    auto epoch_counts = torch::zeros({d1}, torch::TensorOptions().dtype(torch::kLong).device(device));
    auto mse_sum = torch::zeros({}, fopts.dtype(torch::kDouble));
    auto ghost_sum = torch::zeros({}, fopts.dtype(torch::kDouble));
    int64_t ghost_steps = 0;
    double lr = 0;
    int64_t k = cfg.k;
    for (int64_t b = 0; b < batches; ++b, ++st.step) {
      const auto idx = order.slice(0, b * cfg.batch_size, std::min(n, (b + 1) * cfg.batch_size));
      const auto xb = x.index_select(0, idx);
      const int64_t bsz = xb.size(0);
      lr = cfg.lr_at(st.step, total_steps);
      k = cfg.k_at(st.step, d1);
      torch::manual_seed(mix_seed(cfg.seed, 2, static_cast<uint64_t>(st.step)));  // this step's dropout

      // Units whose activation frequency over the samples seen before this step is at most the
      // threshold get the ghost loss (none at step 0, when nothing has been seen, nor when the bound
      // on the counts proves that every unit is above it).
      torch::Tensor inactive;
      const bool none_inactive = bound_applies && inactive_bound.none_inactive(st.samples_seen, cfg.dead_threshold);
      if (st.samples_seen > 0 && !none_inactive) inactive = activation_frequency(st, cfg).le(cfg.dead_threshold);
      const SaeLoss loss = sae_loss(st.sae, xb, k, cfg.dropout, inactive, cfg.ghost_weight);
      {
        torch::NoGradGuard no_grad;
        const auto active = cfg.relu ? loss.codes.values.gt(0).to(torch::kLong) : torch::ones_like(loss.codes.indices);
        const auto batch_counts = torch::zeros({d1}, torch::TensorOptions().dtype(torch::kLong).device(device))
                                      .index_add_(0, loss.codes.indices.reshape({-1}), active.reshape({-1}));
        st.counts.add_(batch_counts);
        epoch_counts.add_(batch_counts);
        if (cfg.dead_window > 0) {
          const auto batch_freq = batch_counts.to(torch::kDouble) / static_cast<double>(bsz);
          const double weight = st.samples_seen == 0
                                    ? 1.0
                                    : std::min(1.0, static_cast<double>(bsz) / static_cast<double>(cfg.dead_window));
          st.recent_freq.mul_(1 - weight).add_(batch_freq, weight);
        }
        st.samples_seen += bsz;
        if (bound_applies) inactive_bound.update(st.counts);
      }
      for (auto& p : st.params) p.mutable_grad() = torch::Tensor();
      loss.total.backward();
      {
        torch::NoGradGuard no_grad;
        std::vector<torch::Tensor> grads;
        for (auto& p : st.params) grads.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
        if (cfg.grad_clip > 0) {
          // torch.nn.utils.clip_grad_norm_: the total norm (the norm of the per-tensor norms), then every
          // gradient times min(1, max_norm / (norm + 1e-6)). Computed on the device, as torch does, so
          // that the step never waits for the GPU.
          std::vector<torch::Tensor> norms;
          for (const auto& g : grads) norms.push_back(g.norm());
          const auto coef = (cfg.grad_clip / (torch::stack(norms).norm() + 1e-6)).clamp_max(1.0);
          for (auto& g : grads) g.mul_(coef);
        }
        AdamHyper hyper = hyper_base;
        hyper.lr = lr;
        if (device.is_cuda()) {
          // torch.optim.Adam(fused=True)'s kernel: one pass over every parameter and its moments
          // (the element-wise reference below launches eight kernels per tensor).
          std::vector<torch::Tensor> params, steps;
          for (const auto& p : st.params) {
            params.push_back(p.detach());
            steps.push_back(torch::full({}, static_cast<double>(st.step + 1), fopts));
          }
          at::_fused_adam_(params, grads, st.exp_avg, st.exp_avg_sq, {}, steps, hyper.lr, hyper.beta1, hyper.beta2,
                           hyper.weight_decay, hyper.eps, /*amsgrad=*/false, /*maximize=*/false);
        } else {
          for (size_t i = 0; i < st.params.size(); ++i) {
            auto p = st.params[i].detach();
            adam_update_(p, grads[i], st.exp_avg[i], st.exp_avg_sq[i], st.step + 1, hyper);
          }
        }
        normalize_decoder_columns_(st.sae.decoder);
        mse_sum += loss.mse.detach().to(torch::kDouble);
        ghost_sum += loss.ghost.detach().to(torch::kDouble);
        if (loss.ghost_units > 0) ++ghost_steps;
      }
      bar.advance();
    }
    ++st.epoch;

    SaeEpochMetrics m;
    m.epoch = st.epoch;
    m.step = st.step;
    m.lr = lr;
    m.k = k;
    m.train_mse = mse_sum.item<double>() / static_cast<double>(batches);
    m.ghost_loss = ghost_sum.item<double>() / static_cast<double>(batches);
    m.ghost_steps = ghost_steps;
    {
      TopKSae eval_sae = st.sae;
      eval_sae.k = k;
      const SaeEncoding enc = sae_encode(eval_sae, eval_x, 8192, device);
      const ReconstructionQuality q = reconstruction_quality(eval_x.to(torch::kCPU), enc.reconstruction);
      m.eval_mse = q.mse;
      m.eval_fve = q.fve;
    }
    const auto epoch_freq = epoch_counts.to(torch::kDouble) / static_cast<double>(n);
    m.dead_share = epoch_counts.eq(0).to(torch::kDouble).mean().item<double>();
    m.near_dead_share = epoch_freq.le(cfg.dead_threshold).to(torch::kDouble).mean().item<double>();
    m.ghost_share = activation_frequency(st, cfg).le(cfg.dead_threshold).to(torch::kDouble).mean().item<double>();
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.history.push_back(m);
    log << log_line(m, cfg.epochs) << "\n" << std::flush;
    bar.set_postfix(
        fmt::format("ep {} mse {:.4g} fve {:.3f} dead {:.1f}%", m.epoch, m.eval_mse, m.eval_fve, 100 * m.dead_share));

    ++epochs_this_call;
    const bool last = st.epoch == cfg.epochs;
    const bool stopping = opts.stop_after_epochs > 0 && epochs_this_call >= opts.stop_after_epochs;
    if (last || stopping || st.epoch % cfg.checkpoint_every == 0) write_checkpoint(ckpt, st, cfg, n, extra);
    if (stopping && !last) break;
  }
  bar.finish();

  result.sae = st.sae;
  result.sae.encoder = st.sae.encoder.detach().to(torch::kCPU);
  result.sae.decoder = st.sae.decoder.detach().to(torch::kCPU);
  if (st.sae.pre_bias.defined()) result.sae.pre_bias = st.sae.pre_bias.detach().to(torch::kCPU);
  result.history = st.history;
  result.finished = st.epoch == cfg.epochs;
  if (result.finished) {
    // The SAE is the one the last step trained: with k annealing longer than the run, its k is the
    // schedule's k at that step, not the target.
    if (!st.history.empty()) result.sae.k = st.history.back().k;
    result.warnings = sae_schedule_warnings(cfg, st.step, result.sae.k,
                                            st.history.empty() ? 0.0 : st.history.back().eval_fve);
    for (const auto& w : result.warnings) fmt::print(stderr, "{}\n", w);
  }
  if (result.finished) {
    nlohmann::json history = nlohmann::json::array();
    for (const auto& m : st.history) history.push_back(m.to_json());
    nlohmann::json info = extra;
    info.update({{"config", cfg.to_json()},
                 {"rows", n},
                 {"steps", st.step},
                 {"history", history},
                 {"k_target", cfg.k},
                 {"warnings", result.warnings},
                 {"final", st.history.empty() ? nlohmann::json() : st.history.back().to_json()}});
    save_sae(opts.out_dir, result.sae, info);
  }
  return result;
}

std::optional<SaeCheckpointSettings> read_checkpoint_settings(const fs::path& out_dir) {
  const fs::path path = out_dir / "checkpoint.safetensors";
  if (!fs::exists(path)) return std::nullopt;
  const SafetensorsFile file = read_safetensors(path);
  SaeCheckpointSettings settings;
  settings.config = SaeConfig::from_json(checkpoint_json(file, path, "config"));
  settings.extra = checkpoint_json(file, path, "extra", nlohmann::json::object());
  require_input(settings.extra.is_object(), "{}: the checkpoint's extra is not a JSON object", path.string());
  return settings;
}

}  // namespace tttlab
