#include "tttlab/studies/table1_report.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/eval/metrics.hpp"
#include "tttlab/io/npy.hpp"
#include "tttlab/report/gnuplot.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const MethodSummary* find_method(const Summary& s, const std::string& name) {
  for (const auto& m : s.methods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

json interval(const Interval& i) { return json::array({i.lo, i.hi}); }

json distribution(const torch::Tensor& v) {
  const auto d = v.to(torch::kDouble);
  auto q = [&](double f) { return torch::quantile(d, f).item<double>(); };
  return {{"mean", d.mean().item<double>()},
          {"std", d.std().item<double>()},
          {"q10", q(0.1)},
          {"q25", q(0.25)},
          {"median", q(0.5)},
          {"q75", q(0.75)},
          {"q90", q(0.9)}};
}

double mean_of(const torch::Tensor& t) { return t.to(torch::kDouble).mean().item<double>(); }

}  // namespace

Summary summarize_table1(const Table1Result& r, const BootstrapConfig& bootstrap) {
  Summary s = summarize(r.methods, r.test_labels, bootstrap, /*baseline=*/"");
  for (const auto& [a, b] : table1_comparisons()) {
    const MethodPredictions *pa = nullptr, *pb = nullptr;
    for (const auto& m : r.methods) {
      if (m.name == a) pa = &m;
      if (m.name == b) pb = &m;
    }
    if (!pa || !pb) continue;
    const auto ca = correct(pa->pred, r.test_labels), cb = correct(pb->pred, r.test_labels);
    s.comparisons.push_back(
        {a + " - " + b, tttlab::mean(ca) - tttlab::mean(cb), paired_bootstrap_ci(ca, cb, bootstrap)});
  }
  return s;
}

json table1_json(const Table1Config& cfg, const Table1Result& r, const Summary& summary) {
  json j;
  for (const auto& m : summary.methods) {
    j["methods"][m.name] = {
        {"accuracy", m.accuracy},
        {"ci90", interval(m.ci)},
        {"se", std::sqrt(m.accuracy * (1 - m.accuracy) / static_cast<double>(std::max<int64_t>(1, m.n)))},
        {"mean_ce", m.mean_ce ? json(*m.mean_ce) : json(nullptr)},
        {"n", m.n}};
  }
  for (const auto& c : summary.comparisons) {
    j["comparisons"][c.name] = {{"accuracy_diff", c.accuracy_diff}, {"ci90", interval(c.ci)}};
  }
  for (const char* space : {"phi_hat", "psi_hat", "psi"}) {
    const auto* g = find_method(summary, std::string("global_") + space);
    const auto* t = find_method(summary, std::string("ttt_") + space);
    if (g && t) j["table1"][space] = {{"global", g->accuracy}, {"ttt", t->accuracy}};
  }
  if (const auto* mk = find_method(summary, "masked_ttt_phi_hat")) j["table1"]["phi_hat"]["masked_ttt"] = mk->accuracy;
  if (const auto* na = find_method(summary, "nonadaptive_ttt_phi_hat")) {
    j["table1"]["phi_hat"]["nonadaptive_ttt"] = na->accuracy;
  }
  for (const auto& [space, cos] : r.neighbor_cosine) j["o1"]["mean_cosine_in_phi_hat"][space] = distribution(cos);
  j["o1"]["note"] = "per test point: mean cosine similarity in Phi-hat to its k neighbours chosen in each space";
  const MaskStatistics& s = r.mask_stats;
  j["o2"] = {{"mask_size", mean_of(s.mask_size)},
             {"mask_in_neighborhood", mean_of(s.mask_in_neighborhood)},
             {"neighborhood_concepts", mean_of(s.neighborhood_concepts)},
             {"test_concepts", mean_of(s.test_concepts)},
             {"kept_test_concepts", mean_of(s.kept_test_concepts)},
             {"nonadaptive_mask_size", mean_of(r.nonadaptive_mask_size)},
             {"distributions",
              {{"mask_size", distribution(s.mask_size)},
               {"mask_in_neighborhood", distribution(s.mask_in_neighborhood)},
               {"neighborhood_concepts", distribution(s.neighborhood_concepts)}}}};
  const ProbabilityAgreement& o3 = r.o3;
  json ranks = json::array();
  for (int64_t i = 0; i < o3.top; ++i) {
    ranks.push_back({{"rank", i + 1},
                     {"rel_tv", o3.rel_tv[i]},
                     {"rel_tv_ci90", interval(o3.rel_tv_ci[i])},
                     {"p_psi_hat", o3.mean_reference[i]},
                     {"p_psi_hat_ci90", interval(o3.mean_reference_ci[i])},
                     {"p_phi_hat_masked", o3.mean_other[i]},
                     {"p_phi_hat_masked_ci90", interval(o3.mean_other_ci[i])}});
  }
  j["o3"] = {{"agreement", o3.agreement},
             {"agreement_ci90", interval(o3.agreement_ci)},
             {"temperature", temperature_json(o3.temperatures)},
             {"ranks", ranks},
             {"note",
              "ranks: the top classes of the calibrated masked Phi-hat TTT distribution; p_psi_hat: the Psi-hat "
              "TTT probability of the same class"}};
  j["warnings"] = r.warnings;
  j["sae"] = {{"source", r.sae_source},
              {"input_dim", r.input_dim},
              {"latent_dim", r.latent_dim},
              {"k", r.sparsity},
              {"reconstruction", r.sae_quality}};
  j["dataset"] = {{"name", r.dataset_name},
                  {"num_train", r.num_train},
                  {"num_test", r.num_test},
                  {"num_classes", r.num_classes},
                  {"device", r.device}};
  const MaskedFitConfig mc = cfg.effective_masked();
  j["config"] = {{"data", cfg.data},
                 {"sae_dir", cfg.sae_dir.string()},
                 {"sae", cfg.sae.to_json()},
                 {"head",
                  {{"epochs", cfg.head_train.epochs},
                   {"batch_size", cfg.head_train.batch_size},
                   {"lr", cfg.head_train.lr},
                   {"weight_decay", cfg.head_train.weight_decay}}},
                 {"ttt",
                  {{"k", cfg.ttt.k},
                   {"steps", cfg.ttt.steps},
                   {"lr", cfg.ttt.lr},
                   {"weight_decay", cfg.ttt.weight_decay},
                   {"beta1", cfg.ttt.beta1},
                   {"beta2", cfg.ttt.beta2},
                   {"eps", cfg.ttt.eps}}},
                 {"masked",
                  {{"penalty", mc.penalty},
                   {"temperature", mc.temperature},
                   {"mask_init", mc.mask_init},
                   {"steps", mc.fit.steps},
                   {"lr", mc.fit.lr}}},
                 {"original_space", cfg.original_space},
                 {"normalize", cfg.normalize},
                 {"max_test", cfg.max_test},
                 {"top", cfg.top},
                 {"index", cfg.index},
                 {"bootstrap", {{"resamples", cfg.bootstrap.resamples}, {"level", cfg.bootstrap.level}}},
                 {"seed", cfg.seed},
                 {"versions", library_versions()},
                 {"machine", machine_facts()}};
  double total = 0;
  for (const auto& [stage, sec] : r.seconds) {
    j["timing"][stage + "_s"] = sec;
    total += sec;
  }
  j["timing"]["total_s"] = total;
  return j;
}

json temperature_json(const torch::Tensor& temperatures) {
  const TemperatureSummary s = summarize_temperatures(temperatures);
  const auto d = temperatures.to(torch::kDouble);
  auto q = [&](double f) { return torch::quantile(d, f).item<double>(); };
  return {{"n", s.n},
          {"median", s.median},
          {"q10", q(0.1)},
          {"q25", q(0.25)},
          {"q75", q(0.75)},
          {"q90", q(0.9)},
          {"search_range", json::array({kMinCalibrationTemperature, kMaxCalibrationTemperature})},
          {"clamped_at_lower_bound", s.at_lower_bound},
          {"clamped_at_upper_bound", s.at_upper_bound}};
}

std::string temperature_text(const torch::Tensor& temperatures) {
  const TemperatureSummary s = summarize_temperatures(temperatures);
  std::vector<std::string> clamped;
  if (s.at_upper_bound > 0) {
    clamped.push_back(fmt::format("{} of {} fits clamped at the search bound {:g}", s.at_upper_bound, s.n,
                                  kMaxCalibrationTemperature));
  }
  if (s.at_lower_bound > 0) {
    clamped.push_back(fmt::format("{} of {} fits clamped at the search bound {:g}", s.at_lower_bound, s.n,
                                  kMinCalibrationTemperature));
  }
  const std::string text = fmt::format("temperature median {:.3g}", s.median);
  return clamped.empty() ? text : fmt::format("{} ({})", text, fmt::join(clamped, "; "));
}

std::string table1_text(const Table1Result& r, const Summary& summary, double level) {
  std::ostringstream o;
  auto cell = [&](const std::string& name) {
    const auto* m = find_method(summary, name);
    return m ? fmt::format("{:6.2f}% [{:.2f}, {:.2f}]", 100 * m->accuracy, 100 * m->ci.lo, 100 * m->ci.hi)
             : std::string("-");
  };
  o << fmt::format("Table 1 ({} test points, {:.0f}% bootstrap CIs)\n", r.num_test, 100 * level);
  o << fmt::format("{:<28}{:<28}{}\n", "space", "global", "TTT");
  o << fmt::format("{:<28}{:<28}{}\n", "Phi-hat (concepts)", cell("global_phi_hat"), cell("ttt_phi_hat"));
  o << fmt::format("{:<28}{:<28}{}\n", "Psi-hat (reconstructions)", cell("global_psi_hat"), cell("ttt_psi_hat"));
  if (find_method(summary, "global_psi")) {
    o << fmt::format("{:<28}{:<28}{}\n", "Psi (original)", cell("global_psi"), cell("ttt_psi"));
  }
  o << fmt::format("{:<28}{:<28}{}\n", "masked TTT in Phi-hat", "", cell("masked_ttt_phi_hat"));
  o << fmt::format("{:<28}{:<28}{}\n", "non-adaptive mask", "", cell("nonadaptive_ttt_phi_hat"));
  for (const auto& c : summary.comparisons) {
    o << fmt::format("  {:<46} {:+.2f} pp [{:+.2f}, {:+.2f}]\n", c.name, 100 * c.accuracy_diff, 100 * c.ci.lo,
                     100 * c.ci.hi);
  }
  o << fmt::format("O1: mean cosine in Phi-hat to neighbours chosen in Psi {:.3f}, Psi-hat {:.3f}, Phi-hat {:.3f}\n",
                   mean_of(r.neighbor_cosine.at("psi")), mean_of(r.neighbor_cosine.at("psi_hat")),
                   mean_of(r.neighbor_cosine.at("phi_hat")));
  o << fmt::format(
      "O2: ||m||_0 {:.1f} (of which used by neighbours {:.1f}) of {:.1f} concepts active in the "
      "neighbourhood; keeps {:.1f} of the test point's {:.1f}\n",
      mean_of(r.mask_stats.mask_size), mean_of(r.mask_stats.mask_in_neighborhood),
      mean_of(r.mask_stats.neighborhood_concepts), mean_of(r.mask_stats.kept_test_concepts),
      mean_of(r.mask_stats.test_concepts));
  o << fmt::format(
      "O3: Psi-hat TTT and masked Phi-hat TTT agree on {:.2f}% [{:.2f}, {:.2f}]; {}; rel. TV at "
      "rank 1 {:.3f}, rank 2 {:.3f}\n",
      100 * r.o3.agreement, 100 * r.o3.agreement_ci.lo, 100 * r.o3.agreement_ci.hi, temperature_text(r.o3.temperatures),
      r.o3.rel_tv.at(0), r.o3.rel_tv.size() > 1 ? r.o3.rel_tv[1] : 0.0);
  return o.str();
}

namespace {

void write_figures(const fs::path& dir, const Table1Result& r) {
  // O1: histograms (densities) of the per-point mean cosine for the three neighbourhood spaces.
  const std::vector<std::string> spaces{"psi", "psi_hat", "phi_hat"};
  double lo = 1, hi = -1;
  for (const auto& s : spaces) {
    lo = std::min(lo, r.neighbor_cosine.at(s).min().item<double>());
    hi = std::max(hi, r.neighbor_cosine.at(s).max().item<double>());
  }
  const int bins = 40;
  if (hi <= lo) hi = lo + 1e-6;
  const double width = (hi - lo) / bins;
  std::ostringstream o1;
  o1 << "# bin_centre density_psi density_psi_hat density_phi_hat\n";
  std::vector<std::vector<double>> dens(spaces.size(), std::vector<double>(bins, 0));
  for (size_t s = 0; s < spaces.size(); ++s) {
    const auto v = r.neighbor_cosine.at(spaces[s]).contiguous();
    const auto a = v.accessor<double, 1>();
    for (int64_t i = 0; i < v.size(0); ++i) {
      const int b = std::clamp(static_cast<int>((a[i] - lo) / width), 0, bins - 1);
      dens[s][b] += 1.0 / (static_cast<double>(v.size(0)) * width);
    }
  }
  for (int b = 0; b < bins; ++b) {
    o1 << fmt::format("{:.6f} {:.6f} {:.6f} {:.6f}\n", lo + (b + 0.5) * width, dens[0][b], dens[1][b], dens[2][b]);
  }
  const fs::path o1_dat = dir / "fig2_neighbor_cosine.dat";
  write_text_atomically(o1_dat, o1.str());
  render_gnuplot(dir / "fig2_neighbor_cosine",
                 fmt::format("set title 'O1: mean cosine in concept space between a test point and its neighbours'\n"
                             "set xlabel 'average cosine similarity in Phi-hat'\nset ylabel 'density'\n"
                             "set key top left\nset grid\n"
                             "plot '{0}' u 1:2 w steps lw 2 t 'neighbours chosen in Psi', "
                             "'{0}' u 1:3 w steps lw 2 dt 2 t 'neighbours chosen in Psi-hat', "
                             "'{0}' u 1:4 w steps lw 2 dt 3 t 'neighbours chosen in Phi-hat'",
                             o1_dat.filename().string()));

  // O3: mean probability at each rank (both models) and the relative total variation.
  std::ostringstream o3;
  o3 << "# rank p_psi_hat lo hi p_phi_hat_masked lo hi rel_tv lo hi\n";
  for (int64_t i = 0; i < r.o3.top; ++i) {
    o3 << fmt::format("{} {:.8g} {:.8g} {:.8g} {:.8g} {:.8g} {:.8g} {:.8g} {:.8g} {:.8g}\n", i + 1,
                      r.o3.mean_reference[i], r.o3.mean_reference_ci[i].lo, r.o3.mean_reference_ci[i].hi,
                      r.o3.mean_other[i], r.o3.mean_other_ci[i].lo, r.o3.mean_other_ci[i].hi, r.o3.rel_tv[i],
                      r.o3.rel_tv_ci[i].lo, r.o3.rel_tv_ci[i].hi);
  }
  const fs::path o3_dat = dir / "fig3_top_probabilities.dat";
  write_text_atomically(o3_dat, o3.str());
  render_gnuplot(dir / "fig3_top_probabilities",
                 fmt::format("set multiplot layout 1,2 title 'O3: TTT in Psi-hat vs masked TTT in Phi-hat (90% CIs)'\n"
                             "set xlabel 'rank (by the calibrated masked Phi-hat model)'\nset grid\nset logscale y\n"
                             "set ylabel 'mean probability'\nset key top right\nset xrange [0.5:{1}.5]\n"
                             "plot '{0}' u ($1-0.1):2:3:4 w yerrorlines lw 2 t 'Psi-hat TTT', "
                             "'{0}' u ($1+0.1):5:6:7 w yerrorlines lw 2 t 'masked Phi-hat TTT (calibrated)'\n"
                             "unset logscale y\nset ylabel 'relative total variation'\nset yrange [0:*]\n"
                             "plot '{0}' u 1:8:9:10 w yerrorlines lw 2 t 'rel. TV'\nunset multiplot",
                             o3_dat.filename().string(), r.o3.top),
                 1200, 500);
}

}  // namespace

void write_table1_outputs(const fs::path& out_dir, const Table1Config& cfg, const Table1Result& r,
                          const Summary& summary) {
  fs::create_directories(out_dir);
  for (const auto& m : r.methods) {
    write_npy(out_dir / ("pred_" + m.name + ".npy"), m.pred);
    if (m.ce.defined()) write_npy(out_dir / ("ce_" + m.name + ".npy"), m.ce);
  }
  write_npy(out_dir / "test_rows.npy", r.test_rows);
  write_npy(out_dir / "test_labels.npy", r.test_labels);
  for (const auto& [space, cos] : r.neighbor_cosine) write_npy(out_dir / ("o1_cosine_" + space + ".npy"), cos);
  write_npy(out_dir / "o2_mask_size.npy", r.mask_stats.mask_size);
  write_npy(out_dir / "o2_mask_in_neighborhood.npy", r.mask_stats.mask_in_neighborhood);
  write_npy(out_dir / "o2_neighborhood_concepts.npy", r.mask_stats.neighborhood_concepts);
  write_npy(out_dir / "o2_test_concepts.npy", r.mask_stats.test_concepts);
  write_npy(out_dir / "o2_kept_test_concepts.npy", r.mask_stats.kept_test_concepts);
  // The masks themselves (bool [M, d1]) when they are small enough to keep (ImageNet: 50k x 4096 = 200 MB: not).
  if (r.masks.numel() <= (int64_t{1} << 27)) {
    write_npy(out_dir / "o2_masks.npy", r.masks);
    write_npy(out_dir / "o2_test_active.npy", r.test_active);
  }
  write_npy(out_dir / "o3_temperature.npy", r.o3.temperatures);
  write_npy(out_dir / "o3_p_psi_hat.npy", r.o3.p_reference);
  write_npy(out_dir / "o3_p_phi_hat_masked.npy", r.o3.p_other);
  write_figures(out_dir, r);
  json j = table1_json(cfg, r, summary);
  j["outputs"] = {"pred_<method>.npy",
                  "ce_<method>.npy",
                  "test_rows.npy",
                  "test_labels.npy",
                  "o1_cosine_<space>.npy",
                  "o2_*.npy (o2_masks.npy, o2_test_active.npy: bool [M, d1] adaptive masks and the test points' active "
                  "concepts, when M d1 <= 2^27)",
                  "o3_*.npy",
                  "fig2_neighbor_cosine.{png,svg,gp,dat}",
                  "fig3_top_probabilities.{png,svg,gp,dat}"};
  write_text_atomically(out_dir / "results.json", j.dump(2) + "\n");
}

}  // namespace tttlab
