// Module-name patterns from checkpoint configs: Python re.match semantics (anchored at the start),
// a clear error for a pattern that does not compile, and one that backtracks without end gives up
// quickly with a clear error instead of hanging (the fuzzer found std::regex doing that).
#include "io/module_pattern.h"

#include <gtest/gtest.h>

#include <chrono>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

TEST(ModulePattern, MatchesFromTheStartLikePythonReMatch) {
  const ModulePattern down(".*down_proj", "cfg");
  EXPECT_TRUE(down.matches_start_of("model.layers.0.mlp.down_proj"));
  EXPECT_FALSE(down.matches_start_of("model.layers.0.mlp.up_proj"));
  const ModulePattern layers("model\\.layers\\.1\\.", "cfg");
  EXPECT_TRUE(layers.matches_start_of("model.layers.1.self_attn.q_proj"));
  EXPECT_FALSE(layers.matches_start_of("x.model.layers.1.self_attn.q_proj"));  // re.match, not re.search
  const ModulePattern exact("^model\\.norm$", "cfg");
  EXPECT_TRUE(exact.matches_start_of("model.norm"));
  EXPECT_FALSE(exact.matches_start_of("model.norm2"));
}

TEST(ModulePattern, APatternThatDoesNotCompileIsAClearError) {
  const std::string msg = aqtest::message_of<FormatError>([] { ModulePattern("(unclosed", "config.json: dynamic"); });
  EXPECT_NE(msg.find("config.json: dynamic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a valid regular expression"), std::string::npos) << msg;
  EXPECT_THROW(ModulePattern(std::string(5000, 'a'), "cfg"), FormatError);
}

TEST(ModulePattern, ExponentialBacktrackingGivesUpWithAClearError) {
  const ModulePattern evil("(a|aa)+$", "config.json: dynamic");
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = aqtest::message_of<FormatError>([&] { evil.matches_start_of(std::string(64, 'a') + "!"); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(msg.find("backtracks too much"), std::string::npos) << msg;
  EXPECT_LT(seconds, 5.0);  // std::regex took minutes on this input
}
