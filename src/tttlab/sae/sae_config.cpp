#include "tttlab/sae/sae_config.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tttlab/core/error.hpp"

namespace tttlab {

int64_t SaeConfig::k_at(int64_t step, int64_t latent) const {
  const int64_t k0 = std::min(std::max(k_start, k), latent);
  if (k_anneal_steps <= 0 || step >= k_anneal_steps) return k;
  const double frac = static_cast<double>(step) / static_cast<double>(k_anneal_steps);
  return static_cast<int64_t>(std::llround(static_cast<double>(k0) - static_cast<double>(k0 - k) * frac));
}

double SaeConfig::lr_at(int64_t step, int64_t total_steps) const {
  if (step < warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t horizon = cosine_horizon > 0 ? cosine_horizon : total_steps;
  if (horizon <= warmup_steps) return lr;
  const double frac =
      std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(horizon - warmup_steps));
  return lr * 0.5 * (1.0 + std::cos(std::numbers::pi * frac));
}

void SaeConfig::validate(int64_t input_dim) const {
  require_input(input_dim >= 1, "SAE: the input width is {} (expected >= 1)", input_dim);
  require_input(latent_dim >= 0, "SAE: latent dim={} (expected >= 1, or 0 for expansion x input width)", latent_dim);
  require_input(latent_dim > 0 || expansion >= 1, "SAE: expansion={} (expected >= 1)", expansion);
  const int64_t d1 = latent_for(input_dim);
  require_input(k >= 1 && k <= d1, "SAE: k={} (expected 1..{}, the latent dim)", k, d1);
  require_input(k_start >= 1, "SAE: k-start={} (expected >= 1)", k_start);
  require_input(k_anneal_steps >= 0, "SAE: k-anneal-steps={} (expected >= 0)", k_anneal_steps);
  require_input(epochs >= 1, "SAE: epochs={} (expected >= 1)", epochs);
  require_input(batch_size >= 1, "SAE: batch size={} (expected >= 1)", batch_size);
  require_input(std::isfinite(lr) && lr > 0, "SAE: lr={} (expected > 0)", lr);
  require_input(warmup_steps >= 0, "SAE: warm-up steps={} (expected >= 0)", warmup_steps);
  require_input(cosine_horizon >= 0, "SAE: cosine horizon={} (expected >= 0; 0 = the run's steps)", cosine_horizon);
  require_input(beta1 >= 0 && beta1 < 1, "SAE: beta1={} (expected in [0, 1))", beta1);
  require_input(beta2 >= 0 && beta2 < 1, "SAE: beta2={} (expected in [0, 1))", beta2);
  require_input(std::isfinite(eps) && eps > 0, "SAE: eps={} (expected > 0)", eps);
  require_input(std::isfinite(weight_decay) && weight_decay >= 0, "SAE: weight decay={} (expected >= 0)", weight_decay);
  require_input(std::isfinite(grad_clip) && grad_clip >= 0, "SAE: grad clip={} (expected >= 0; 0 = off)", grad_clip);
  require_input(dropout >= 0 && dropout < 1, "SAE: dropout={} (expected in [0, 1))", dropout);
  require_input(std::isfinite(ghost_weight) && ghost_weight >= 0, "SAE: ghost weight={} (expected >= 0)", ghost_weight);
  require_input(dead_threshold >= 0 && dead_threshold < 1, "SAE: dead threshold={} (expected in [0, 1))",
                dead_threshold);
  require_input(dead_window >= 0, "SAE: dead window={} (expected >= 0; 0 = since the start)", dead_window);
  require_input(checkpoint_every >= 1, "SAE: checkpoint-every={} (expected >= 1 epoch)", checkpoint_every);
  require_input(eval_rows >= 0, "SAE: eval rows={} (expected >= 0; 0 = all)", eval_rows);
}

nlohmann::json SaeConfig::to_json() const {
  return {{"latent_dim", latent_dim},
          {"expansion", expansion},
          {"k", k},
          {"k_start", k_start},
          {"k_anneal_steps", k_anneal_steps},
          {"relu", relu},
          {"pre_bias", pre_bias},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"warmup_steps", warmup_steps},
          {"cosine_horizon", cosine_horizon},
          {"beta1", beta1},
          {"beta2", beta2},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"grad_clip", grad_clip},
          {"dropout", dropout},
          {"ghost_weight", ghost_weight},
          {"dead_threshold", dead_threshold},
          {"dead_window", dead_window},
          {"seed", seed},
          {"checkpoint_every", checkpoint_every},
          {"eval_rows", eval_rows}};
}

SaeConfig SaeConfig::from_json(const nlohmann::json& j) {
  SaeConfig c;
  auto get = [&](const char* key, auto& field) {
    require_input(j.is_object() && j.contains(key), "SAE config: the field '{}' is missing", key);
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception&) {
      throw_input_error("SAE config: the field '{}' has the wrong type", key);
    }
  };
  get("latent_dim", c.latent_dim);
  get("expansion", c.expansion);
  get("k", c.k);
  get("k_start", c.k_start);
  get("k_anneal_steps", c.k_anneal_steps);
  get("relu", c.relu);
  get("pre_bias", c.pre_bias);
  get("epochs", c.epochs);
  get("batch_size", c.batch_size);
  get("lr", c.lr);
  get("warmup_steps", c.warmup_steps);
  get("cosine_horizon", c.cosine_horizon);
  get("beta1", c.beta1);
  get("beta2", c.beta2);
  get("eps", c.eps);
  get("weight_decay", c.weight_decay);
  get("grad_clip", c.grad_clip);
  get("dropout", c.dropout);
  get("ghost_weight", c.ghost_weight);
  get("dead_threshold", c.dead_threshold);
  get("dead_window", c.dead_window);
  get("seed", c.seed);
  get("checkpoint_every", c.checkpoint_every);
  get("eval_rows", c.eval_rows);
  return c;
}

}  // namespace tttlab
