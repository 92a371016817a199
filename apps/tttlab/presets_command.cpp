// tttlab presets: the paper's protocols, each with where it comes from and the option values it sets.
#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/studies/presets.hpp"

namespace tttlab::cli {

void add_presets_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "presets",
      "List the named presets (the paper's protocols) with their values. Use one with --preset NAME on run, "
      "scale and reproduce table1, or preset = \"NAME\" in a config file; the config file and flags override it.");
  cmd->callback([] {
    for (const StudyPreset& p : study_presets()) {
      fmt::print("{}\n  from: {}\n  {}\n  sets:", p.name, p.source, p.summary);
      for (const auto& [key, value] : preset_options(p)) fmt::print(" --{} {}", key, value);
      fmt::print("\n\n");
    }
  });
}

}  // namespace tttlab::cli
