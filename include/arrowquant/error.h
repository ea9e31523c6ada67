// Error types. Every failure the user can cause (bad file, bad flag, bad weights) is reported as one
// of these, with a message that names the file and, where there is one, the tensor.
#pragma once
#include <stdexcept>
#include <string>

namespace arrowquant {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A file is malformed: truncated, inconsistent header, wrong schema, checksum mismatch.
class FormatError : public Error { using Error::Error; };
// A tensor's shape disagrees with the model's configuration or with the tensors stored beside it.
class ShapeError : public FormatError { using FormatError::FormatError; };
// The file system said no: missing file, unwritable directory, short write.
class IoError : public Error { using Error::Error; };
// The weights or settings are unusable: NaN/Inf, unknown format, bad group size.
class ValueError : public Error { using Error::Error; };
// The user stopped a long run (Ctrl-C, SIGTERM). Nothing is left that looks complete; a quantisation
// run keeps its checkpoint so that --resume continues it.
class Interrupted : public Error { using Error::Error; };

}  // namespace arrowquant
