#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "../data/data_test_util.h"
#include "core/fs.h"

namespace eff {
namespace {

using testing::read_bytes;
using testing::ScratchDir;

TEST(Fs, WriteFileAtomicReplacesContentAndLeavesNoTemporary) {
  ScratchDir dir;
  const std::string path = dir.file("out.txt");
  write_file_atomic(path, "first");
  write_file_atomic(path, std::string("sec\0ond", 7));
  EXPECT_EQ(read_bytes(path), std::string("sec\0ond", 7));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename(), "out.txt");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(Fs, WriteFileAtomicFailureNamesThePathAndCleansUp) {
  ScratchDir dir;
  // The target is a non-empty directory, so the final rename fails after the temporary exists.
  const std::string target = dir.file("taken");
  std::filesystem::create_directories(target + "/inside");
  try {
    write_file_atomic(target, "data");
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(target + ": ", 0), 0u) << e.what();
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename(), "taken") << "left behind: " << e.path();
  }
  EXPECT_THROW(write_file_atomic(dir.file("no/such/dir/f"), "x"), DataError);
}

TEST(Fs, ReadFileChecksExistenceAndSize) {
  ScratchDir dir;
  const std::string path = dir.file("f.bin");
  write_file_atomic(path, "0123456789");
  EXPECT_EQ(read_file(path, 10), "0123456789");
  try {
    read_file(path, 9);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": is 10 bytes, more than the 9 byte limit");
  }
  try {
    read_file(dir.file("missing"), 100);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("missing") + ": no such file");
  }
  EXPECT_THROW(read_file(dir.path().string(), 100), DataError);
}

TEST(Fs, MakeDirsCreatesParentsAndRefusesFiles) {
  ScratchDir dir;
  make_dirs(dir.file("a/b/c"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("a/b/c")));
  make_dirs(dir.file("a/b/c"));  // already there: fine
  write_file_atomic(dir.file("plain"), "x");
  EXPECT_THROW(make_dirs(dir.file("plain")), DataError);
  EXPECT_THROW(make_dirs(dir.file("plain/sub")), DataError);
}

TEST(Fs, SafeFileName) {
  EXPECT_EQ(safe_file_name("conv1/Conv_0:0"), "conv1_Conv_0_0");
  EXPECT_EQ(safe_file_name("Ok-name_1.2"), "Ok-name_1.2");
  EXPECT_EQ(safe_file_name("../etc/passwd"), ".._etc_passwd");
  EXPECT_EQ(safe_file_name(""), "_");
  EXPECT_EQ(safe_file_name("."), "_");
  EXPECT_EQ(safe_file_name(".."), "__");
  EXPECT_EQ(safe_file_name("caf\xc3\xa9 x"), "caf___x");
}

}  // namespace
}  // namespace eff
