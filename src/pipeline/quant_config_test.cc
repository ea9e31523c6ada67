#include <fstream>
#include <set>

#include "arrowquant/error.h"
#include "pipeline/precision_rules.h"
#include "arrowquant/quant_config.h"
#include "util/setting_visitors.h"
#include "test_util.h"

using namespace arrowquant;

TEST(QuantConfig, PrecedenceProfileYamlEnvFlags) {
  aqtest::TempDir dir;
  std::ofstream(dir / "c.yaml") << "profile: edge\ngroup_size: 32\nembedding_bits: 8\nclip: minmax\npins:\n  - '*.query.*=8'\n";
  // YAML chooses the edge profile and overrides its group size.
  QuantConfig c = resolve_quant_config(dir / "c.yaml", {}, {});
  EXPECT_EQ(c.profile, "edge");
  EXPECT_EQ(c.bits, 2);
  EXPECT_EQ(c.group_size, 32);
  EXPECT_EQ(c.embedding_bits, 8);
  ASSERT_EQ(c.pins.size(), 1u);
  // Environment beats YAML; flags beat the environment.
  c = resolve_quant_config(dir / "c.yaml", {{"group_size", "64"}, {"bits", "3"}}, {{"bits", "4"}});
  EXPECT_EQ(c.group_size, 64);
  EXPECT_EQ(c.bits, 4);
  EXPECT_EQ(c.clip, ClipMethod::MinMax);
  // A profile given as a flag replaces the YAML's, and the YAML's other keys still apply on top.
  c = resolve_quant_config(dir / "c.yaml", {}, {{"profile", "cloud"}});
  EXPECT_EQ(c.bits, 8);
  EXPECT_EQ(c.group_size, 32);
}

TEST(QuantConfig, DiffusionProfilesTakeTheSeedValuesWhenNamed) {
  // The ArrowQuant V2 seed's DiffusionQuantConfig profiles: bits, group, time groups, min_accuracy,
  // calibration samples; each calibrated on the model's own trajectories.
  struct Want { const char* name; int bits; int64_t group, time_groups; double min_accuracy; int64_t samples; };
  for (const Want& w : {Want{"edge", 2, 256, 5, 0.65, 32}, Want{"local", 4, 128, 10, 0.85, 128},
                        Want{"cloud", 8, 64, 20, 0.95, 512}}) {
    const QuantConfig c = resolve_quant_config("", {}, {{"profile", w.name}}, Modality::ImageDiffusion);
    EXPECT_EQ(c.bits, w.bits) << w.name;
    EXPECT_EQ(c.group_size, w.group) << w.name;
    EXPECT_EQ(c.time_groups, w.time_groups) << w.name;
    EXPECT_DOUBLE_EQ(c.min_accuracy, w.min_accuracy) << w.name;
    EXPECT_EQ(c.samples, w.samples) << w.name;
    EXPECT_EQ(c.calibration, "trajectory") << w.name;
    EXPECT_EQ(c.modality, Modality::ImageDiffusion);
    EXPECT_EQ(c.to_json().value("modality", ""), "image diffusion");
    EXPECT_NE(profile_summary(w.name, Modality::ImageDiffusion).find("time_groups " + std::to_string(w.time_groups)),
              std::string::npos);
  }
  // Settings apply on top, as for any profile; from the environment too.
  QuantConfig c = resolve_quant_config("", {{"profile", "cloud"}}, {{"time_groups", "0"}, {"samples", "16"}},
                                       Modality::ImageDiffusion);
  EXPECT_EQ(c.bits, 8);
  EXPECT_EQ(c.time_groups, 0);
  EXPECT_EQ(c.samples, 16);
  // No profile named: the plain defaults, nothing calibrated unasked.
  c = resolve_quant_config("", {}, {}, Modality::ImageDiffusion);
  EXPECT_EQ(c.time_groups, 0);
  EXPECT_TRUE(c.calibration.empty());
  EXPECT_EQ(c.modality, Modality::Text);
  EXPECT_FALSE(c.to_json().contains("modality"));
  // A text model's profiles are unchanged.
  c = resolve_quant_config("", {}, {{"profile", "edge"}});
  EXPECT_EQ(c.group_size, 64);
  EXPECT_EQ(c.time_groups, 0);
  EXPECT_EQ(c.min_accuracy, 0);
  EXPECT_THROW(resolve_quant_config("", {}, {{"profile", "phone"}}, Modality::ImageDiffusion), ValueError);
}

TEST(QuantConfig, BadValuesAreClearErrors) {
  EXPECT_THROW(resolve_quant_config("", {}, {{"bits", "7"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"group_size", "48"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"profile", "phone"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {{"bits", "four"}}, {}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"method", "gptq"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"pin", "nothing"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"pin", "*.x=7"}}), ValueError);
  aqtest::TempDir dir;
  std::ofstream(dir / "bad.yaml") << "bits: [\n";
  EXPECT_THROW(resolve_quant_config(dir / "bad.yaml", {}, {}), ValueError);
  std::ofstream(dir / "unknown.yaml") << "bitz: 4\n";
  EXPECT_THROW(resolve_quant_config(dir / "unknown.yaml", {}, {}), ValueError);
}

// A codebook family must have the width asked for, except when an allocation picks the widths (then
// --bits is unused, and the lattice family takes gauss levels where it has no format).
TEST(QuantConfig, CodebookWidthsAndAllocation) {
  EXPECT_THROW(resolve_quant_config("", {}, {{"codebook", "lattice"}}), ValueError);  // 4 bits by default
  EXPECT_NO_THROW(resolve_quant_config("", {}, {{"codebook", "lattice"}, {"bits", "2"}}));
  const QuantConfig c = resolve_quant_config(
      "", {}, {{"codebook", "lattice"}, {"target_size", "40"}, {"method", "gptq"}, {"calibration", "c.txt"}});
  EXPECT_EQ(c.format_for(4)->name, "gauss4");
  EXPECT_EQ(c.format_for(2, 576)->name, "lattice2");
}


TEST(QuantConfig, EverySettingDeclaredOnceAndRoundTripsThroughJson) {
  QuantConfig c;
  std::vector<std::string> keys;
  for_each_setting([&](SettingVisitor& v) { c.visit(v); }, [&](const SettingInfo& s) {
    keys.push_back(std::string(s.key));
    EXPECT_FALSE(s.help.empty()) << s.key;
  });
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size());
  EXPECT_GE(keys.size(), 24u);
  // A non-default config written as JSON and read back key by key is the same config.
  QuantConfig a = resolve_quant_config("", {}, {{"bits", "3"}, {"group_size", "channel"}, {"sym", "on"},
                                                {"method", "gptq"}, {"clip", "minmax"}, {"pin", "*.x.*=8"},
                                                {"calibration", "c.txt"}, {"damp", "0.05"}, {"act_order", "yes"}});
  EXPECT_EQ(a.group_size, 0);
  EXPECT_EQ(a.method, Method::Gptq);
  const nlohmann::json j = a.to_json();
  QuantConfig b;
  set_option(b, "profile", j["profile"], "json");  // a preset: first, as resolve_quant_config applies it
  auto apply = [&](const nlohmann::json& obj) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if ((it.key() == "calibration" && it->is_object()) || it.key() == "profile") continue;
      if (it->is_array()) {
        for (const auto& v : *it) set_option(b, it.key(), v.get<std::string>(), "json");
        continue;
      }
      const std::string text = it->is_string() ? it->get<std::string>() : it->is_boolean() ? (it->get<bool>() ? "true" : "false") : it->dump();
      set_option(b, it.key(), text, "json");
    }
  };
  apply(j);
  apply(j["calibration"]);
  EXPECT_EQ(b.to_json(), j);
  EXPECT_FALSE(j.contains("threads"));  // cannot change the result: not recorded
}

TEST(QuantConfig, ErrorsNameWhereTheValueCameFrom) {
  auto message = [](const std::map<std::string, std::string>& env, const std::vector<std::pair<std::string, std::string>>& flags) {
    try {
      resolve_quant_config("", env, flags);
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({{"samples", "0"}}, {}).find("ARROW_QUANT_samples"), std::string::npos);
  EXPECT_NE(message({}, {{"smooth_alpha", "2"}}).find("--smooth_alpha: smooth_alpha must be in [0, 1]"), std::string::npos)
      << message({}, {{"smooth_alpha", "2"}});
  EXPECT_NE(message({}, {{"clip", "median"}}).find("unknown clip \"median\" (known: minmax, mse)"), std::string::npos);
  EXPECT_NE(message({}, {{"bitz", "4"}}).find("known: profile, bits"), std::string::npos);
  // Values set directly (the C++ and Python API) are range-checked too.
  QuantConfig c;
  c.samples = 0;
  EXPECT_THROW(validate(c), ValueError);
}
