// Calibration documents from .txt (a line each) and .jsonl (a "text" field each), with clear errors.
#include "io/calibration_text.h"

#include <gtest/gtest.h>

#include <fstream>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

TEST(CalibrationText, DocumentsFromTextAndJsonl) {
  aqtest::TempDir tmp;
  std::ofstream(tmp / "a.txt") << "first line\r\n\n   \nsecond line\n";
  auto docs = read_calibration_documents(tmp / "a.txt");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], "first line");
  std::ofstream(tmp / "b.jsonl") << "{\"text\": \"one\"}\n{\"text\": \"two\", \"id\": 3}\n";
  EXPECT_EQ(read_calibration_documents(tmp / "b.jsonl").size(), 2u);
  std::ofstream(tmp / "bad.jsonl") << "{\"text\": \"one\"}\n{\"txt\": 1}\n";
  try {
    read_calibration_documents(tmp / "bad.jsonl");
    FAIL() << "accepted a line without text";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  std::ofstream(tmp / "empty.txt") << "\n  \n";
  EXPECT_THROW(read_calibration_documents(tmp / "empty.txt"), ValueError);
  EXPECT_THROW(read_calibration_documents(tmp / "missing.txt"), IoError);
}
